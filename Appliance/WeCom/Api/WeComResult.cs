namespace Appliance.WeCom.Api;

/// <summary>Why a WeCom API call failed, in classes a caller can act on.</summary>
public enum WeComErrorKind
{
    /// <summary>The access token was rejected even after one refetch (40001, 40014, 42001).</summary>
    InvalidToken,

    /// <summary>WeCom said -1 (system busy) on every attempt.</summary>
    Busy,

    /// <summary>60020: this machine's address is not a trusted IP of the app; route egress through the relay.</summary>
    IpNotAllowed,

    /// <summary>81013 or an invaliduser list: the recipients are not members of the app's visible range.</summary>
    InvalidUser,

    /// <summary>The media is too large (or too small) for its type, before or after the call.</summary>
    MediaSize,

    /// <summary>No answer, a broken connection or a non-JSON answer.</summary>
    Transport,

    /// <summary>WeCom:Secret is missing or wrong (40001 on gettoken, 40013 corpid).</summary>
    Credentials,

    /// <summary>Any other errcode.</summary>
    Other,
}

/// <summary>A failed call: WeCom's errcode (0 when the failure is local) and message, classified.</summary>
public sealed record WeComError(WeComErrorKind Kind, int ErrCode, string Message)
{
    public override string ToString() => ErrCode == 0 ? $"{Kind}: {Message}" : $"{Kind}: {ErrCode} {Message}";
}

/// <summary>Either a value or a <see cref="WeComError"/>; API methods never throw for WeCom-side failures.</summary>
public readonly record struct WeComResult<T>(T? Value, WeComError? Error)
{
    public bool IsSuccess => Error is null;
#pragma warning disable CA1000 // Factory methods on the result type read best at the call site.

    public static WeComResult<T> Ok(T value) => new(value, null);

    public static WeComResult<T> Fail(WeComError error) => new(default, error);

    public static WeComResult<T> Fail(WeComErrorKind kind, int code, string message) => new(default, new WeComError(kind, code, message));
#pragma warning restore CA1000
}

/// <summary>An uploaded media file: its id (valid 3 days) and when WeCom stored it.</summary>
public sealed record UploadedMedia(string MediaId, long CreatedAt);

/// <summary>A media/get download: what was written to the destination stream.</summary>
public sealed record DownloadedMedia(string ContentType, string? FileName, long Length);

/// <summary>A message/send answer: members, parties and tags WeCom could not deliver to ("a|b").</summary>
public sealed record SendReceipt(string InvalidUser, string InvalidParty, string InvalidTag);

public enum MediaType
{
    Image,
    Voice,
    Video,
    File,
}

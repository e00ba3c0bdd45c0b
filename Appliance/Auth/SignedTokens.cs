using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Appliance.Hosting;

namespace Appliance.Auth;

/// <summary>
/// Expiring tokens signed with HMAC-SHA256 under a secret kept in the state directory: login sessions (cookie) and
/// view links (the <c>t</c> query parameter, minted for WeCom's "live" answer). Form:
/// <c>kind.expiresUnix.subject.signature</c>, each part Base64url.
/// </summary>
public sealed class SignedTokens
{
    public const string SessionKind = "s";
    public const string LinkKind = "l";
    private const string SecretFile = "web-token.key";

    private readonly byte[] _key;
    private readonly TimeProvider _time;

    public SignedTokens(StateDirectory state, TimeProvider time)
        : this((state ?? throw new ArgumentNullException(nameof(state))).GetOrCreateSecret(SecretFile), time)
    {
    }

    public SignedTokens(byte[] key, TimeProvider time)
    {
        _key = key ?? throw new ArgumentNullException(nameof(key));
        _time = time ?? throw new ArgumentNullException(nameof(time));
    }

    public string Create(string kind, string subject, TimeSpan lifetime)
    {
        var expires = _time.GetUtcNow().Add(lifetime).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var body = $"{kind}.{expires}.{Base64Url(Encoding.UTF8.GetBytes(subject))}";
        return $"{body}.{Sign(body)}";
    }

    /// <summary>
    /// The subject of a login session: the user, and a keyed fingerprint of the password setting, so that changing the
    /// household password ends every session signed before (the fingerprint is an HMAC under this appliance's secret:
    /// a cookie tells nothing about the password).
    /// </summary>
    public string SessionSubject(string user, string passwordSetting) => $"{user}#{Sign("password." + passwordSetting)[..16]}";

    /// <summary>The subject when the token is of <paramref name="kind"/>, correctly signed and unexpired; otherwise null.</summary>
    public string? Validate(string? token, string kind) => Check(token, kind, out var subject) == TokenCheck.Valid ? subject : null;

    /// <summary>
    /// Whether the token is valid, and if not, why: <see cref="TokenCheck.Expired"/> only for a token this appliance
    /// signed, of <paramref name="kind"/>, whose time (on the injected clock) has passed; anything else is
    /// <see cref="TokenCheck.Invalid"/>.
    /// </summary>
    public TokenCheck Check(string? token, string kind, out string? subject) => Check(token, kind, out subject, out _);

    /// <summary>As <see cref="Check(string?, string, out string?)"/>, with the time a valid token expires.</summary>
    public TokenCheck Check(string? token, string kind, out string? subject, out DateTimeOffset expiresAt)
    {
        subject = null;
        expiresAt = default;
        if (string.IsNullOrEmpty(token) || token.Length > 1024)
        {
            return TokenCheck.Invalid;
        }

        var lastDot = token.LastIndexOf('.');
        if (lastDot <= 0)
        {
            return TokenCheck.Invalid;
        }

        var body = token[..lastDot];
        var expected = Encoding.ASCII.GetBytes(Sign(body));
        var given = Encoding.ASCII.GetBytes(token[(lastDot + 1)..]);
        if (!CryptographicOperations.FixedTimeEquals(expected, given))
        {
            return TokenCheck.Invalid;
        }

        var parts = body.Split('.');
        if (parts.Length != 3 || parts[0] != kind
            || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var expires))
        {
            return TokenCheck.Invalid;
        }

        if (_time.GetUtcNow().ToUnixTimeSeconds() >= expires)
        {
            return TokenCheck.Expired;
        }

        try
        {
            subject = Encoding.UTF8.GetString(FromBase64Url(parts[2]));
            expiresAt = DateTimeOffset.FromUnixTimeSeconds(Math.Min(expires, 32503680000));
            return TokenCheck.Valid;
        }
        catch (FormatException)
        {
            return TokenCheck.Invalid;
        }
    }

    private string Sign(string body) => Base64Url(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(body)));

    private static string Base64Url(byte[] data) => Convert.ToBase64String(data).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static byte[] FromBase64Url(string text)
    {
        var padded = text.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(padded.PadRight(padded.Length + ((4 - (padded.Length % 4)) % 4), '='));
    }
}

/// <summary>What <see cref="SignedTokens.Check"/> found.</summary>
public enum TokenCheck
{
    Valid,
    Expired,
    Invalid,
}

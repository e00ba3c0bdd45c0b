using System.Net.Http.Headers;

namespace Relay.WeCom;

/// <summary>The bodies the callback relay and its replay send and read: a callback as request content, the appliance's answer for the log.</summary>
internal static class CallbackBodies
{
    private const int MaxReasonChars = 200;

    public static ByteArrayContent Content(byte[] body, string? contentType)
    {
        var content = new ByteArrayContent(body);
        if (contentType is not null && MediaTypeHeaderValue.TryParse(contentType, out var parsed))
        {
            content.Headers.ContentType = parsed;
        }

        return content;
    }

    /// <summary>The appliance's answer, or nothing when it cannot be read (the refusal is what counts, not why).</summary>
    public static async Task<byte[]> ReadSomeAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            return await response.Content.ReadAsByteArrayAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
        {
            return [];
        }
    }

    /// <summary>The start of the appliance's answer, one line, for the log (it says why it refused: "rejected: 40001 …").</summary>
    public static string Reason(byte[] body)
    {
        var text = System.Text.Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, MaxReasonChars * 4)).ReplaceLineEndings(" ").Trim();
        return text.Length == 0 ? "no reason given" : text.Length > MaxReasonChars ? text[..MaxReasonChars] + "…" : text;
    }
}

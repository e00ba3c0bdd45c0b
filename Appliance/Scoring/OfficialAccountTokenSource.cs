using System.Net.Http.Headers;
using System.Text.Json;
using Appliance.WeCom.Api;

namespace Appliance.Scoring;

/// <summary>
/// The HttpClient for WeChat's official-account APIs, on the same egress as WeCom's (through the relay when the
/// tunnel provides one: the official account's IP whitelist applies too). No IHttpClientFactory logging: URIs carry tokens.
/// </summary>
public sealed class WeChatHttp : IDisposable
{
    private readonly Uri _base;

    public WeChatHttp(ScoringOptions options, IWeComEgress egress)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(egress);
        _base = new Uri(options.WeChatApiBaseUrl.TrimEnd('/') + "/");
        Client = new HttpClient(egress.CreatePrimaryHandler(), disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
    }

    public HttpClient Client { get; }

    public Uri Uri(string relative) => new(_base, relative);

    public void Dispose() => Client.Dispose();
}

/// <summary>
/// The official account's token: <c>cgi-bin/stable_token</c> (preferred: fetching it does not invalidate the token
/// other holders use) or <c>cgi-bin/token</c>. Wrapped in its own <see cref="AccessTokenCache"/>.
/// </summary>
internal sealed class OfficialAccountTokenSource(ScoringOptions options, WeChatHttp http, TimeProvider time) : AccessTokenSource
{
    public override string CacheFileName => "wechat-official-token.json";

    public override string Identity => $"wechat|{options.WeChatApiBaseUrl}|{options.UseStableToken}|{options.OfficialAppId}|{options.OfficialAppSecret}";

    public override async Task<AccessToken> FetchAsync(CancellationToken cancellationToken)
    {
        if (options.OfficialAppId.Length == 0)
        {
            throw new AccessTokenException("Scoring:OfficialAppId and Scoring:OfficialAppSecret are needed to download official-account voice", 0, transient: false);
        }

        var api = options.UseStableToken ? "stable_token" : "token";
        JsonDocument document;
        try
        {
            using var request = options.UseStableToken
                ? new HttpRequestMessage(HttpMethod.Post, http.Uri("cgi-bin/stable_token")) { Content = StableTokenBody() }
                : new HttpRequestMessage(HttpMethod.Get, http.Uri(
                    $"cgi-bin/token?grant_type=client_credential&appid={Uri.EscapeDataString(options.OfficialAppId)}&secret={Uri.EscapeDataString(options.OfficialAppSecret)}"));
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            using var response = await http.Client.SendAsync(request, timeout.Token);
            var body = await response.Content.ReadAsByteArrayAsync(timeout.Token);
            document = JsonDocument.Parse(body);
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            // Never the URI: it carries the secret for cgi-bin/token.
            throw new AccessTokenException($"{api} failed: {ex.GetType().Name}: {ex.Message}", 0, transient: true);
        }

        using (document)
        {
            // Every field is checked for its type: an odd answer is an error that says so, not an exception.
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new AccessTokenException($"{api} answered {root.ValueKind}, not a JSON object", 0, transient: true);
            }

            var code = root.TryGetProperty("errcode", out var c) && c.ValueKind == JsonValueKind.Number
                ? (c.TryGetInt32(out var number) ? number : int.MinValue)
                : 0;
            if (code != 0)
            {
                var message = root.TryGetProperty("errmsg", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : "";
                throw new AccessTokenException($"{api} answered {(code == int.MinValue ? c.GetRawText() : code)}: {WeComApiClient.Shorten(message)}", code, transient: code == WeComApiClient.Busy);
            }

            var token = root.TryGetProperty("access_token", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            if (string.IsNullOrEmpty(token))
            {
                throw new AccessTokenException($"{api} answered without access_token", 0, transient: true);
            }

            var expiresIn = root.TryGetProperty("expires_in", out var e) && e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var seconds) && seconds > 0
                ? seconds
                : 7200;
            return new AccessToken(token, time.GetUtcNow().AddSeconds(expiresIn));
        }
    }

    private ByteArrayContent StableTokenBody()
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WriteString("grant_type", "client_credential");
            writer.WriteString("appid", options.OfficialAppId);
            writer.WriteString("secret", options.OfficialAppSecret);
            writer.WriteBoolean("force_refresh", false);
            writer.WriteEndObject();
        }

        return new ByteArrayContent(stream.ToArray()) { Headers = { ContentType = new MediaTypeHeaderValue("application/json", "utf-8") } };
    }
}

/// <summary>The official account's token cache (a separate instance from WeCom's).</summary>
public sealed class OfficialAccountTokens(AccessTokenCache cache)
{
    public AccessTokenCache Cache { get; } = cache;
}

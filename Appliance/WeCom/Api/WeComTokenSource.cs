using System.Text.Json;

namespace Appliance.WeCom.Api;

/// <summary>WeCom's <c>cgi-bin/gettoken?corpid=&amp;corpsecret=</c>.</summary>
internal sealed class WeComTokenSource(WeComOptions options, WeComHttp http, TimeProvider time) : AccessTokenSource
{
    public override string CacheFileName => "wecom-token.json";

    public override string Identity => $"wecom|{options.ApiBaseUrl}|{options.CorpId}|{options.AgentId}|{options.Secret}";

    public override async Task<AccessToken> FetchAsync(CancellationToken cancellationToken)
    {
        if (options.Secret.Length == 0 || options.CorpId.Length == 0)
        {
            throw new AccessTokenException("WeCom:CorpId and WeCom:Secret are needed to call WeCom's APIs", 0, transient: false);
        }

        var uri = http.Uri($"cgi-bin/gettoken?corpid={Uri.EscapeDataString(options.CorpId)}&corpsecret={Uri.EscapeDataString(options.Secret)}");
        JsonDocument document;
        try
        {
            using var response = await http.Client.GetAsync(uri, cancellationToken);
            var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            document = JsonDocument.Parse(body);
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            // The exception text never includes the URI (which carries the secret): only its type and message.
            throw new AccessTokenException($"gettoken failed: {ex.GetType().Name}: {ex.Message}", 0, transient: true);
        }

        using (document)
        {
            var root = document.RootElement;
            var code = root.TryGetProperty("errcode", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetInt32() : 0;
            if (code != 0)
            {
                var message = root.TryGetProperty("errmsg", out var m) ? m.GetString() ?? "" : "";
                throw new AccessTokenException($"gettoken answered {code}: {WeComApiClient.Shorten(message)}", code, transient: code == WeComApiClient.Busy);
            }

            var token = root.TryGetProperty("access_token", out var t) ? t.GetString() : null;
            if (string.IsNullOrEmpty(token))
            {
                throw new AccessTokenException("gettoken answered without access_token", 0, transient: true);
            }

            var expiresIn = root.TryGetProperty("expires_in", out var e) && e.TryGetInt32(out var seconds) ? seconds : 7200;
            return new AccessToken(token, time.GetUtcNow().AddSeconds(expiresIn));
        }
    }
}

/// <summary>The API HttpClient, built on the egress's handler. No IHttpClientFactory logging: it would log URIs with tokens.</summary>
public sealed class WeComHttp : IDisposable
{
    private readonly Uri _base;

    public WeComHttp(WeComOptions options, IWeComEgress egress)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(egress);
        _base = new Uri(options.ApiBaseUrl.TrimEnd('/') + "/");
        Egress = egress.Name;
        Timeout = options.HttpTimeout;
        Client = new HttpClient(egress.CreatePrimaryHandler(), disposeHandler: true) { Timeout = options.HttpTimeout };
    }

    /// <summary>
    /// <c>WeCom:HttpTimeout</c>: the client's own timeout ends at the headers when a call reads the body as a stream,
    /// so such calls take a deadline of this length for the body too (<see cref="Deadline"/>).
    /// </summary>
    public TimeSpan Timeout { get; }

    /// <summary>A token cancelled by the caller or after <see cref="Timeout"/>, whichever comes first.</summary>
    public CancellationTokenSource Deadline(CancellationToken cancellationToken)
    {
        var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(Timeout);
        return deadline;
    }

    public HttpClient Client { get; }

    public string Egress { get; }

    public Uri Uri(string relative) => new(_base, relative);

    public void Dispose() => Client.Dispose();
}

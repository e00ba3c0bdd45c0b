using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Appliance.Web;

/// <summary>
/// Runs first on every request (after the tunnel has set the visitor's host and scheme). It adds the security headers
/// to every answer (CSP with <c>frame-ancestors 'none'</c> and the page's own scripts by hash, nosniff, no referrer:
/// a view link's token must not leak to another site) and refuses a state-changing request (any method but GET, HEAD,
/// OPTIONS) that a browser says comes from another site: <c>Sec-Fetch-Site</c> other than same-origin or none, or an
/// <c>Origin</c> that is not this appliance's own scheme and host. Whatever the credential (a cookie, a Basic
/// login the browser remembers, a view link): a page elsewhere cannot switch an output. Clients that send neither
/// header (players, Home Assistant, curl, WeCom's servers, the relay's own requests) are not browsers acting for a
/// third site, and pass. ASP.NET Core's antiforgery would need a token in every form and fetch; the browser's own
/// headers, which a page cannot forge, say the same for the JSON API too.
/// </summary>
internal sealed partial class WebSecurityMiddleware(RequestDelegate next, ILogger<WebSecurityMiddleware> logger)
{
    private static readonly string ContentSecurityPolicy = BuildPolicy();
    private readonly Auth.LogThrottle _refusedLog = new(TimeProvider.System, TimeSpan.FromMinutes(1));

    public Task InvokeAsync(HttpContext context)
    {
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";

        var request = context.Request;
        if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method)
            || IsSameOrigin(request))
        {
            return next(context);
        }

        if (_refusedLog.TryPass(out var heldBack))
        {
            LogCrossSite(logger, request.Method, request.Path.Value ?? "", request.Headers.Origin.ToString(),
                request.Headers["Sec-Fetch-Site"].ToString(), heldBack);
        }

        context.Response.StatusCode = StatusCodes.Status403Forbidden;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync("Refused: this request came from another site's page.\n");
    }

    /// <summary>True unless the browser says the request comes from another site (see the class comment).</summary>
    internal static bool IsSameOrigin(HttpRequest request)
    {
        // A browser that sends Sec-Fetch-Site is believed (a page cannot set it): also behind a reverse proxy that
        // rewrites Host, where the Origin comparison below would fail for the appliance's own page.
        var site = request.Headers["Sec-Fetch-Site"].ToString();
        if (site.Length > 0)
        {
            return site is "same-origin" or "none";
        }

        var origin = request.Headers.Origin.ToString();
        if (origin.Length == 0)
        {
            return true;
        }

        // "null" (a sandboxed frame, a data: page) is another site too.
        return Uri.TryCreate(origin, UriKind.Absolute, out var uri)
            && string.Equals(uri.Scheme, request.Scheme, StringComparison.OrdinalIgnoreCase)
            && string.Equals(uri.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase)
            && uri.AbsolutePath is "/" or "";
    }

    /// <summary>The page's inline scripts are allowed by their hashes, nothing else; no site may frame any page.</summary>
    private static string BuildPolicy()
    {
        // The live page's and the events page's (/events) scripts.
        var hashes = string.Join(' ', ((string[])["Web/index.html", "Web/events.html"])
            .SelectMany(asset => ScriptPattern().Matches(Encoding.UTF8.GetString(WebPageExtensions.ReadAsset(asset))))
            .Select(m => $"'sha256-{Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(m.Groups[1].Value)))}'"));
        return $"default-src 'none'; script-src {hashes}; style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; "
            + "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
    }

    [GeneratedRegex("<script>(.*?)</script>", RegexOptions.Singleline | RegexOptions.CultureInvariant)]
    private static partial Regex ScriptPattern();

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Refused a cross-site {Method} {Path} (Origin '{Origin}', Sec-Fetch-Site '{Site}'; {HeldBack} more since the last such line)")]
    private static partial void LogCrossSite(ILogger logger, string method, string path, string origin, string site, int heldBack);
}

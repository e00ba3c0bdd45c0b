using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;

namespace Appliance.Auth;

/// <summary>
/// Decides who a request comes from and whether the endpoint admits them. Loopback (not the tunnel) is admin
/// without a login; otherwise a login cookie, HTTP Basic (Web:User and the password) or a signed view link. Basic
/// attempts go through <see cref="LoginFailureLimiter"/>: an address past the limit gets 429, its password unchecked.
/// A refused request whose <c>t</c> link has expired or is not valid is told so (401), not sent to the login form.
/// </summary>
internal sealed partial class WebAuthMiddleware(
    RequestDelegate next, WebAuthOptions options, SignedTokens tokens, LoginFailureLimiter limiter, TimeProvider time,
    ILogger<WebAuthMiddleware> logger)
{
    public const string SessionCookie = "appliance_session";
    public const string LinkCookie = "appliance_link";

    /// <summary>On a refusal for a bad <c>t</c> link: "expired" or "invalid" (the page reads it).</summary>
    public const string LinkProblemHeader = "X-Appliance-Link";

    private const string RefusedForItem = "Appliance.LoginRefusedFor";
    private const string LinkProblemItem = "Appliance.LinkProblem";
    private static readonly TimeSpan BasicCacheLifetime = TimeSpan.FromMinutes(5);

    // The settings do not change while the process runs: one HMAC at start, not one per request.
    private readonly string _sessionSubject = tokens.SessionSubject(options.User, options.PasswordSetting);

    // PBKDF2 is slow on purpose; remember the last accepted Basic header so a camera client polling snapshots
    // does not pay it on every request.
    private (byte[] HeaderHash, DateTimeOffset Until) _acceptedBasic = ([], DateTimeOffset.MinValue);

    public async Task InvokeAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var principal = Authenticate(context);
        context.SetWebPrincipal(principal);

        var endpoint = context.GetEndpoint();
        var required = endpoint is null
            ? WebRole.Anonymous
            : endpoint.Metadata.GetMetadata<MinimumRoleMetadata>()?.Role ?? WebRole.Admin;
        if (principal.Role >= required)
        {
            await next(context);
            return;
        }

        await ChallengeAsync(context, principal);
    }

    private WebPrincipal Authenticate(HttpContext context)
    {
        if (options.TrustLoopback && context.IsLocal())
        {
            return WebPrincipal.Loopback;
        }

        if (context.IsRelayOwnRequest())
        {
            return WebPrincipal.Relay;
        }

        if (tokens.Validate(context.Request.Cookies[SessionCookie], SignedTokens.SessionKind) is { } session
            && session == _sessionSubject)
        {
            return new WebPrincipal(options.User, WebRole.Admin, "cookie");
        }

        if (TryBasic(context) is { } basic)
        {
            return basic;
        }

        var link = context.Request.Query[LinkSigner.QueryParameter].ToString();
        var linkExpires = default(DateTimeOffset);
        var linkCheck = link.Length > 0 ? tokens.Check(link, SignedTokens.LinkKind, out _, out linkExpires) : (TokenCheck?)null;
        if (linkCheck == TokenCheck.Valid)
        {
            // Remember the link for the page's own requests (stream, snapshot, status).
            context.Response.Cookies.Append(LinkCookie, link, new CookieOptions
            {
                HttpOnly = true,
                SameSite = SameSiteMode.Lax,
                Secure = context.Request.IsHttps,
                Path = context.Request.PathBase.HasValue ? context.Request.PathBase.Value : "/",
            });
            return new WebPrincipal("link", WebRole.Viewer, "link") { Until = linkExpires };
        }

        if (linkCheck is { } problem)
        {
            // Expired or not valid: said only if nothing else admits the request (a newer link's cookie).
            context.Items[LinkProblemItem] = problem;
        }

        if (tokens.Check(context.Request.Cookies[LinkCookie], SignedTokens.LinkKind, out _, out var cookieExpires) == TokenCheck.Valid)
        {
            return new WebPrincipal("link", WebRole.Viewer, "link") { Until = cookieExpires };
        }

        return new WebPrincipal("anonymous", WebRole.Anonymous, "none");
    }

    private WebPrincipal? TryBasic(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (!options.HasPassword || !header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)
            || !AuthenticationHeaderValue.TryParse(header, out var parsed) || parsed.Parameter is null)
        {
            return null;
        }

        var headerHash = SHA256.HashData(Encoding.UTF8.GetBytes(header));
        var cached = _acceptedBasic;
        if (time.GetUtcNow() < cached.Until && CryptographicOperations.FixedTimeEquals(cached.HeaderHash, headerHash))
        {
            return new WebPrincipal(options.User, WebRole.Admin, "basic");
        }

        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(parsed.Parameter));
        }
        catch (FormatException)
        {
            return null;
        }

        // Checked after the cache: a header accepted minutes ago is the password, whoever else guessed from this address.
        if (!limiter.TryBeginAttempt(context, out var wait))
        {
            context.Items[RefusedForItem] = wait;
            return null;
        }

        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0 || decoded[..colon] != options.User || !PasswordCheck.Matches(options, decoded[(colon + 1)..]))
        {
            LogBasicFailed(logger, context.Connection.RemoteIpAddress?.ToString() ?? "?");
            return null;
        }

        limiter.Succeeded(context);
        _acceptedBasic = (headerHash, time.GetUtcNow() + BasicCacheLifetime);
        return new WebPrincipal(options.User, WebRole.Admin, "basic");
    }

    private async Task ChallengeAsync(HttpContext context, WebPrincipal principal)
    {
        var response = context.Response;
        response.Headers.CacheControl = "no-store";
        var wantsHtml = HttpMethods.IsGet(context.Request.Method)
            && context.Request.Headers.Accept.ToString().Contains("text/html", StringComparison.OrdinalIgnoreCase);
        if (principal.Role == WebRole.Anonymous && context.Items[RefusedForItem] is null
            && context.Items[LinkProblemItem] is TokenCheck problem)
        {
            await LinkProblemAsync(context, problem == TokenCheck.Expired, wantsHtml);
            return;
        }

        if (!options.HasPassword && principal.Role == WebRole.Anonymous)
        {
            response.StatusCode = StatusCodes.Status403Forbidden;
            response.ContentType = "text/html; charset=utf-8";
            await response.WriteAsync(Pages.NoPasswordPage);
            return;
        }

        if (principal.Role == WebRole.Anonymous && context.Items[RefusedForItem] is TimeSpan wait)
        {
            // Too many wrong passwords from this address: its HTTP Basic header was not even checked.
            response.StatusCode = StatusCodes.Status429TooManyRequests;
            response.Headers.RetryAfter = LoginFailureLimiter.RetryAfterSeconds(wait);
            await response.WriteAsync($"Too many wrong passwords from your address; wait {LoginFailureLimiter.Describe(wait)}, then try again.\n");
            return;
        }

        if (wantsHtml && principal.Role == WebRole.Anonymous)
        {
            var back = context.Request.PathBase + context.Request.Path + context.Request.QueryString;
            response.Redirect($"{context.Request.PathBase}/login?return={Uri.EscapeDataString(back)}");
            return;
        }

        if (principal.Role == WebRole.Anonymous)
        {
            response.StatusCode = StatusCodes.Status401Unauthorized;
            response.Headers.WWWAuthenticate = "Basic realm=\"Appliance\", charset=\"UTF-8\"";
            await response.WriteAsync("Log in, or use HTTP Basic with Web:User and the password.\n");
            return;
        }

        response.StatusCode = StatusCodes.Status403Forbidden;
        await response.WriteAsync("This needs the household password; a view link is not enough.\n");
    }

    /// <summary>
    /// The <c>t</c> link is expired or not valid and nothing else admits the request. 401, because other credentials
    /// (a new link, the password) would be accepted; with a Bearer challenge (RFC 6750's invalid_token), not Basic, so
    /// a browser shows the page instead of a password prompt. Browsers get a page pointing to 直播/live and the login
    /// form; other clients (the page's own requests, /stream, /snapshot) a line of text.
    /// </summary>
    private async Task LinkProblemAsync(HttpContext context, bool expired, bool wantsHtml)
    {
        var request = context.Request;
        var response = context.Response;
        response.StatusCode = StatusCodes.Status401Unauthorized;
        response.Headers[LinkProblemHeader] = expired ? "expired" : "invalid";
        response.Headers.WWWAuthenticate =
            $"Bearer realm=\"Appliance\", error=\"invalid_token\", error_description=\"{(expired ? "the view link has expired" : "the view link is not valid")}\"";
        if (wantsHtml)
        {
            string? login = null;
            if (options.HasPassword)
            {
                // Back to the same place without the dead link; the login cookie is enough there.
                var query = QueryString.Create(request.Query.Where(p => p.Key != LinkSigner.QueryParameter));
                login = $"{request.PathBase}/login?return={Uri.EscapeDataString(request.PathBase + request.Path + query)}";
            }

            response.ContentType = "text/html; charset=utf-8";
            await response.WriteAsync(Pages.LinkProblemPage(expired, login));
            return;
        }

        response.ContentType = "text/plain; charset=utf-8";
        await response.WriteAsync(expired
            ? "链接已过期 This view link has expired: send 直播/live in WeCom for a new one.\n"
            : "链接无效 This view link is not valid: send 直播/live in WeCom for a new one.\n");
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "HTTP Basic login failed from {Remote}")]
    private static partial void LogBasicFailed(ILogger logger, string remote);
}

/// <summary>Compares a password with Web:Password or Web:PasswordHash in constant time.</summary>
internal static class PasswordCheck
{
    public static bool Matches(WebAuthOptions options, string candidate)
    {
        if (options.PasswordHash.Length > 0)
        {
            return PasswordHasher.Verify(candidate, options.PasswordHash);
        }

        if (options.Password.Length == 0)
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(options.Password)), SHA256.HashData(Encoding.UTF8.GetBytes(candidate)));
    }
}

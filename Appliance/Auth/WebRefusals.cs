using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;

namespace Appliance.Auth;

/// <summary>
/// What a request that a policy refuses gets (ASP.NET Core's hook for the authorization middleware's answer): the
/// schemes' own challenges would each write to the response, so the one answer is chosen here. In order: a bad
/// <c>t</c> link (401 with a Bearer challenge and a page or line saying so), no password set (a page saying how), an
/// address the limiter refused (429 with Retry-After, the password unchecked), a browser (the login form), other
/// clients (401 with a Basic challenge), and a view-link holder at an admin endpoint (403).
/// </summary>
internal sealed class WebRefusals(WebAuthOptions options, RunningAs running) : IAuthorizationMiddlewareResultHandler
{
    /// <summary>On a refusal for a bad <c>t</c> link: "expired" or "invalid" (the page reads it).</summary>
    public const string LinkProblemHeader = "X-Appliance-Link";

    public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        ArgumentNullException.ThrowIfNull(next);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(authorizeResult);
        // No endpoint (an unknown path): routing answers 404 to everyone, as before; nothing there to protect.
        return authorizeResult.Succeeded || context.GetEndpoint() is null ? next(context) : RefuseAsync(context);
    }

    private async Task RefuseAsync(HttpContext context)
    {
        var anonymous = !context.User.Identities.Any(i => i.IsAuthenticated);
        var response = context.Response;
        response.Headers.CacheControl = "no-store";
        var wantsHtml = HttpMethods.IsGet(context.Request.Method)
            && context.Request.Headers.Accept.ToString().Contains("text/html", StringComparison.OrdinalIgnoreCase);
        if (anonymous && context.Items[WebAuthItems.RefusedFor] is null && context.Items[WebAuthItems.LinkProblem] is TokenCheck problem)
        {
            await LinkProblemAsync(context, problem == TokenCheck.Expired, wantsHtml);
            return;
        }

        if (!options.HasPassword && anonymous)
        {
            response.StatusCode = StatusCodes.Status403Forbidden;
            response.ContentType = "text/html; charset=utf-8";
            await response.WriteAsync(Pages.NoPasswordPage(running));
            return;
        }

        if (anonymous && context.Items[WebAuthItems.RefusedFor] is TimeSpan wait)
        {
            // Too many wrong passwords from this address (or from many): its HTTP Basic header was not even checked.
            response.StatusCode = StatusCodes.Status429TooManyRequests;
            response.Headers.RetryAfter = LoginFailureLimiter.RetryAfterSeconds(wait);
            await response.WriteAsync($"Too many wrong passwords; wait {LoginFailureLimiter.Describe(wait)}, then try again.\n");
            return;
        }

        if (wantsHtml && anonymous)
        {
            var back = context.Request.PathBase + context.Request.Path + context.Request.QueryString;
            response.Redirect($"{context.Request.PathBase}/login?return={Uri.EscapeDataString(back)}");
            return;
        }

        if (anonymous)
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

        return System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(options.Password)),
            System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(candidate)));
    }
}

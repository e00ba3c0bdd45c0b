using System.Net.Http.Headers;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Appliance.Auth;

/// <summary>
/// The ways in, each an ASP.NET Core authentication scheme. Endpoints declare a policy (<see cref="WebPolicies"/>) with
/// <c>RequireAuthorization</c>; both policies authenticate with all of these, and the strongest that succeeds decides.
/// </summary>
public static class WebAuthSchemes
{
    /// <summary>A request from this machine that did not come through the tunnel, while Web:TrustLoopback is on.</summary>
    public const string Loopback = "Loopback";

    /// <summary>The relay's own request (its shared stream, its viewer counts), marked by the tunnel's relay key.</summary>
    public const string RelayKey = "RelayKey";

    /// <summary>The login form's cookie: a random session id known to <see cref="SessionStore"/>.</summary>
    public const string Session = "Session";

    /// <summary>HTTP Basic with Web:User and the household password (cameras, players, Home Assistant).</summary>
    public const string Basic = "Basic";

    /// <summary>A signed, expiring view link (<c>?t=</c>) or the cookie that remembers it.</summary>
    public const string Link = "Link";

    internal static readonly string[] All = [Loopback, RelayKey, Session, Basic, Link];
}

/// <summary>The two policies: watch (a view link is enough) and administer (the password, or a trusted loopback).</summary>
public static class WebPolicies
{
    public const string Viewer = "viewer";
    public const string Admin = "admin";

    internal const string ViewerRole = "viewer";
    internal const string AdminRole = "admin";
    internal const string MethodClaim = "appliance/method";
    internal const string UntilClaim = "appliance/until";
}

/// <summary>Where the schemes leave word for the refusal (<see cref="WebRefusals"/>).</summary>
internal static class WebAuthItems
{
    /// <summary>A TimeSpan: the password limiter refused this client; it must wait that long.</summary>
    public const string RefusedFor = "Appliance.LoginRefusedFor";

    /// <summary>A <see cref="TokenCheck"/>: the <c>t</c> link of this request is expired or not valid.</summary>
    public const string LinkProblem = "Appliance.LinkProblem";

    public static AuthenticateResult Success(string scheme, string name, string role, string method, DateTimeOffset? until = null)
    {
        var claims = new List<Claim>
        {
            new(ClaimTypes.Name, name),
            new(ClaimTypes.Role, role),
            new(WebPolicies.MethodClaim, method),
        };
        if (until is { } u)
        {
            claims.Add(new Claim(WebPolicies.UntilClaim, u.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, scheme, ClaimTypes.Name, ClaimTypes.Role));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, scheme));
    }
}

internal sealed class LoopbackAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> schemeOptions, ILoggerFactory loggerFactory, UrlEncoder encoder, WebAuthOptions options)
    : AuthenticationHandler<AuthenticationSchemeOptions>(schemeOptions, loggerFactory, encoder)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync() =>
        Task.FromResult(options.TrustLoopback && Context.IsLocal()
            ? WebAuthItems.Success(Scheme.Name, "local", WebPolicies.AdminRole, "loopback")
            : AuthenticateResult.NoResult());
}

internal sealed class RelayKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> schemeOptions, ILoggerFactory loggerFactory, UrlEncoder encoder)
    : AuthenticationHandler<AuthenticationSchemeOptions>(schemeOptions, loggerFactory, encoder)
{
    // The relay asks for the stream on behalf of viewers it has already checked and whose access it ends when theirs
    // does: a viewer whose own access does not end.
    protected override Task<AuthenticateResult> HandleAuthenticateAsync() =>
        Task.FromResult(Context.IsRelayOwnRequest()
            ? WebAuthItems.Success(Scheme.Name, "relay", WebPolicies.ViewerRole, "relay key")
            : AuthenticateResult.NoResult());
}

/// <summary>
/// The login cookie. Written here rather than with ASP.NET Core's cookie handler and an <c>ITicketStore</c>: that
/// handler would wrap the session key in a Data Protection ticket, whose key ring would have to be kept on the card as
/// well; a 256-bit random id looked up in <see cref="SessionStore"/> needs no protection, and revocation is the store's.
/// Sign-in makes a session and sets the cookie; sign-out removes the session and both cookies.
/// </summary>
internal sealed class SessionAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> schemeOptions, ILoggerFactory loggerFactory, UrlEncoder encoder,
    WebAuthOptions options, SessionStore sessions)
    : SignInAuthenticationHandler<AuthenticationSchemeOptions>(schemeOptions, loggerFactory, encoder)
{
    public const string CookieName = "appliance_session";
    public const string LinkCookieName = "appliance_link";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync() =>
        Task.FromResult(sessions.IsValid(Request.Cookies[CookieName], out _)
            ? WebAuthItems.Success(Scheme.Name, options.User, WebPolicies.AdminRole, "cookie")
            : AuthenticateResult.NoResult());

    protected override Task HandleSignInAsync(ClaimsPrincipal user, AuthenticationProperties? properties)
    {
        var id = sessions.Create(options.SessionLifetime, Context.Connection.RemoteIpAddress?.ToString() ?? "?");
        Response.Cookies.Append(CookieName, id, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Lax,
            Secure = Request.IsHttps,
            MaxAge = options.SessionLifetime,
            Path = CookiePath(Context),
        });
        return Task.CompletedTask;
    }

    protected override Task HandleSignOutAsync(AuthenticationProperties? properties)
    {
        sessions.Revoke(Request.Cookies[CookieName]);

        // Both ways in: the login, and a view link remembered from an earlier visit (else the page still opens).
        var cookiePath = new CookieOptions { Path = CookiePath(Context) };
        Response.Cookies.Delete(CookieName, cookiePath);
        Response.Cookies.Delete(LinkCookieName, cookiePath);
        return Task.CompletedTask;
    }

    internal static string CookiePath(HttpContext context) =>
        context.Request.PathBase.HasValue ? context.Request.PathBase.Value! : "/";
}

/// <summary>
/// HTTP Basic. The attempt limiter is asked first, before the cache of the last accepted header and before any
/// password check: a blocked address gets 429 even with the right password, whoever else is logged in with Basic.
/// </summary>
internal sealed class BasicAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> schemeOptions, ILoggerFactory loggerFactory, UrlEncoder encoder,
    WebAuthOptions options, LoginFailureLimiter limiter, BasicCredentialCache cache)
    : AuthenticationHandler<AuthenticationSchemeOptions>(schemeOptions, loggerFactory, encoder)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (!options.HasPassword || !header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)
            || !AuthenticationHeaderValue.TryParse(header, out var parsed) || parsed.Parameter is null)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        if (limiter.IsBlocked(Context, out var blockedFor))
        {
            Context.Items[WebAuthItems.RefusedFor] = blockedFor;
            return Task.FromResult(AuthenticateResult.Fail("too many wrong passwords from this address"));
        }

        if (cache.IsAccepted(header))
        {
            return Task.FromResult(Admin());
        }

        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(parsed.Parameter));
        }
        catch (FormatException)
        {
            return Task.FromResult(AuthenticateResult.Fail("not Base64"));
        }

        if (!limiter.TryBeginAttempt(Context, out var wait))
        {
            Context.Items[WebAuthItems.RefusedFor] = wait;
            return Task.FromResult(AuthenticateResult.Fail("too many wrong passwords"));
        }

        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0 || decoded[..colon] != options.User || !PasswordCheck.Matches(options, decoded[(colon + 1)..]))
        {
            limiter.Failed(Context, "HTTP Basic");
            return Task.FromResult(AuthenticateResult.Fail("wrong user or password"));
        }

        limiter.Succeeded(Context);
        cache.Accept(header);
        return Task.FromResult(Admin());
    }

    private AuthenticateResult Admin() => WebAuthItems.Success(Scheme.Name, options.User, WebPolicies.AdminRole, "basic");
}

/// <summary>
/// PBKDF2 is slow on purpose; the last accepted Basic header is remembered for a few minutes so a camera client polling
/// snapshots does not pay it on every request. Consulted only after the attempt limiter.
/// </summary>
internal sealed class BasicCredentialCache(TimeProvider time)
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(5);
    private (byte[] HeaderHash, DateTimeOffset Until) _accepted = ([], DateTimeOffset.MinValue);

    public bool IsAccepted(string header)
    {
        var cached = _accepted;
        return time.GetUtcNow() < cached.Until
            && CryptographicOperations.FixedTimeEquals(cached.HeaderHash, SHA256.HashData(Encoding.UTF8.GetBytes(header)));
    }

    public void Accept(string header) => _accepted = (SHA256.HashData(Encoding.UTF8.GetBytes(header)), time.GetUtcNow() + Lifetime);

    /// <summary>The password changed: the old one's header must not be accepted from the cache.</summary>
    public void Clear() => _accepted = ([], DateTimeOffset.MinValue);
}

/// <summary>
/// A signed view link in <c>?t=</c> (remembered in a cookie for the page's own requests), or that cookie. A bad
/// <c>t</c> is noted for the refusal, which tells of it only when nothing else admits the request.
/// </summary>
internal sealed class LinkAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> schemeOptions, ILoggerFactory loggerFactory, UrlEncoder encoder, SignedTokens tokens)
    : AuthenticationHandler<AuthenticationSchemeOptions>(schemeOptions, loggerFactory, encoder)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var link = Request.Query[LinkSigner.QueryParameter].ToString();
        if (link.Length > 0)
        {
            var check = tokens.Check(link, SignedTokens.LinkKind, out _, out var expires);
            if (check == TokenCheck.Valid)
            {
                Response.Cookies.Append(SessionAuthenticationHandler.LinkCookieName, link, new CookieOptions
                {
                    HttpOnly = true,
                    SameSite = SameSiteMode.Lax,
                    Secure = Request.IsHttps,
                    Path = SessionAuthenticationHandler.CookiePath(Context),
                });
                return Task.FromResult(Viewer(expires));
            }

            Context.Items[WebAuthItems.LinkProblem] = check;
        }

        return Task.FromResult(
            tokens.Check(Request.Cookies[SessionAuthenticationHandler.LinkCookieName], SignedTokens.LinkKind, out _, out var cookieExpires) == TokenCheck.Valid
                ? Viewer(cookieExpires)
                : AuthenticateResult.NoResult());
    }

    private AuthenticateResult Viewer(DateTimeOffset until) =>
        WebAuthItems.Success(Scheme.Name, "link", WebPolicies.ViewerRole, "link", until);
}

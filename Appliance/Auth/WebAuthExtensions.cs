using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Appliance.Auth;

/// <summary>
/// The web-auth feature: settings, tokens, ASP.NET Core authentication schemes (<see cref="WebAuthSchemes"/>) and
/// policies (<see cref="WebPolicies"/>; an endpoint that declares none needs an admin), the login form and logout.
/// </summary>
public static class WebAuthExtensions
{
    private const string NotAFormMessage =
        "POST /login takes the login form (application/x-www-form-urlencoded or multipart/form-data) with a password field.\n";

    /// <summary>
    /// Largest login form: a password and a return path (a request line is at most 8 KiB). Anyone may post it, so
    /// without this cap a stranger's 30 MB form (Kestrel's default) would be read into memory before any check.
    /// </summary>
    internal const int MaxLoginFormBytes = 16 * 1024;

    private const string FormTooLargeMessage = "The login form is too large (at most 16 KiB).\n";

    public static WebApplicationBuilder AddWebAuth(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var configuration = builder.Configuration;
        builder.BindOptions<WebAuthOptions>(WebAuthOptions.SectionName, (s, o) =>
        {
            s.Bind(o);
            WebAuthOptions.PreferLaterPasswordSource(configuration, o);
        }, o => o.Validate());
        builder.Services.TryAddSingleton(RunningAs.FromProcess()); // a test may say how it runs
        builder.Services.AddSingleton<SetupCode>();
        builder.Services.AddHostedService<SetupCodeAnnouncer>();
        builder.Services.TryAddSingleton<SignedTokens>(); // a test may put it on its own clock
        builder.Services.AddSingleton<LinkSigner>();
        builder.Services.TryAddSingleton<LoginFailureLimiter>();
        builder.Services.AddSingleton<SessionStore>();
        builder.Services.AddSingleton<BasicCredentialCache>();
        builder.Services.AddAuthentication()
            .AddScheme<AuthenticationSchemeOptions, LoopbackAuthenticationHandler>(WebAuthSchemes.Loopback, null)
            .AddScheme<AuthenticationSchemeOptions, RelayKeyAuthenticationHandler>(WebAuthSchemes.RelayKey, null)
            .AddScheme<AuthenticationSchemeOptions, SessionAuthenticationHandler>(WebAuthSchemes.Session, null)
            .AddScheme<AuthenticationSchemeOptions, BasicAuthenticationHandler>(WebAuthSchemes.Basic, null)
            .AddScheme<AuthenticationSchemeOptions, LinkAuthenticationHandler>(WebAuthSchemes.Link, null);
        DropKeyRingPreload(builder.Services);
        var admin = new AuthorizationPolicyBuilder(WebAuthSchemes.All).RequireRole(WebPolicies.AdminRole).Build();
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(WebPolicies.Viewer, p => p.AddAuthenticationSchemes(WebAuthSchemes.All).RequireRole(WebPolicies.ViewerRole, WebPolicies.AdminRole))
            .AddPolicy(WebPolicies.Admin, admin)
            .SetFallbackPolicy(admin); // an endpoint that forgets to say gets the strictest
        builder.Services.AddSingleton<Microsoft.AspNetCore.Authorization.IAuthorizationMiddlewareResultHandler, WebRefusals>();

        // ASP.NET Core's AuthenticationHandler base writes an Information line for every failed authentication ("Basic
        // was not authenticated. Failure message: wrong user or password"), under the handler's own category, which
        // the shipped "Microsoft.AspNetCore": "Warning" does not cover: a stranger's wrong passwords or made-up links
        // would write one line each. Wrong passwords and refusals are logged by LoginFailureLimiter, one line a minute
        // with a count of those held back (issue 21, finding 9).
        foreach (var handler in (Type[])[typeof(LoopbackAuthenticationHandler), typeof(RelayKeyAuthenticationHandler),
                     typeof(SessionAuthenticationHandler), typeof(BasicAuthenticationHandler), typeof(LinkAuthenticationHandler)])
        {
            builder.Logging.AddFilter(handler.FullName, LogLevel.Warning);
        }

        return builder;
    }

    /// <summary>
    /// AddAuthentication brings ASP.NET Core's data protection, whose hosted service loads its XML key ring (and on the
    /// first start creates and writes a key) before the server listens. Nothing here protects data with it: sessions,
    /// signed links and the setup code have keys of their own. So the preload goes; data protection stays registered
    /// and would load its keys on first use. Under emulation on arm64 this start-up work and the XML and crypto code it
    /// keeps resident cost seconds of the first frame and megabytes of RSS (docs/measurements.md).
    /// </summary>
    internal static void DropKeyRingPreload(IServiceCollection services)
    {
        for (var i = services.Count - 1; i >= 0; i--)
        {
            if (services[i].ServiceType == typeof(IHostedService) && services[i].ImplementationType?.FullName == KeyRingPreloadService)
            {
                services.RemoveAt(i);
            }
        }
    }

    /// <summary>The data protection hosted service that loads the key ring at start (internal to ASP.NET Core).</summary>
    internal const string KeyRingPreloadService = "Microsoft.AspNetCore.DataProtection.Internal.DataProtectionHostedService";

    public static WebApplication UseWebAuth(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseMiddleware<Appliance.Web.WebSecurityMiddleware>(); // headers on every answer; cross-site refused before any credential
        app.UseRouting();
        app.UseAuthentication(); // no default scheme: the policies authenticate; called so it is not inserted first
        app.UseAuthorization();

        app.MapGet("/login", (HttpContext context) =>
            Results.Content(Pages.LoginPage(SafeReturn(context, context.Request.Query["return"]), null), "text/html; charset=utf-8"))
            .AllowAnonymous();

        app.MapPost("/login", async (HttpContext context, WebAuthOptions options, LoginFailureLimiter limiter) =>
        {
            // A JSON or empty body is a client's mistake, not the appliance's: say so instead of failing with a 500.
            if (!context.Request.HasFormContentType)
            {
                return Results.Text(NotAFormMessage, statusCode: StatusCodes.Status400BadRequest);
            }

            if (context.Request.ContentLength > MaxLoginFormBytes)
            {
                return FormTooLarge(context);
            }

            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            {
                limit.MaxRequestBodySize = MaxLoginFormBytes; // a chunked body is cut off here too
            }

            IFormCollection form;
            try
            {
                form = await context.Request.ReadFormAsync(context.RequestAborted);
            }
            catch (InvalidDataException)
            {
                // A malformed multipart body, or one past the form reader's limits.
                return Results.Text(NotAFormMessage, statusCode: StatusCodes.Status400BadRequest);
            }
            catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                return FormTooLarge(context);
            }

            var back = SafeReturn(context, form["return"]);
            if (!options.HasPassword)
            {
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                return Results.Content(Pages.LoginPage(back, "No password is set on the appliance yet."), "text/html; charset=utf-8");
            }

            // The limiter, not a delay per wrong password, slows guessing: refused attempts cost no PBKDF2.
            if (!limiter.TryBeginAttempt(context, out var wait))
            {
                context.Response.Headers.CacheControl = "no-store";
                context.Response.Headers.RetryAfter = LoginFailureLimiter.RetryAfterSeconds(wait);
                return Results.Content(
                    Pages.LoginPage(back, $"Too many wrong passwords from your address. Wait {LoginFailureLimiter.Describe(wait)}, then try again."),
                    "text/html; charset=utf-8", statusCode: StatusCodes.Status429TooManyRequests);
            }

            if (!PasswordCheck.Matches(options, form["password"].ToString()))
            {
                limiter.Failed(context, "login form");
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                return Results.Content(Pages.LoginPage(back, "Wrong password."), "text/html; charset=utf-8");
            }

            limiter.Succeeded(context);

            await context.SignInAsync(WebAuthSchemes.Session, new System.Security.Claims.ClaimsPrincipal(new System.Security.Claims.ClaimsIdentity(
                [new System.Security.Claims.Claim(System.Security.Claims.ClaimTypes.Name, options.User)], WebAuthSchemes.Session)));
            return Results.Redirect(back);
        }).AllowAnonymous().DisableAntiforgery();

        // Mints a view link to share (the WeCom "live" command uses LinkSigner directly).
        app.MapPost("/api/links", (HttpContext context, LinkSigner signer) =>
        {
            var path = context.Request.Query["path"].ToString() is { Length: > 0 } p ? p : "/";
            if (path[0] != '/' || path.StartsWith("//", StringComparison.Ordinal))
            {
                return Results.Text("path must be a path on this appliance, e.g. /stream\n", statusCode: StatusCodes.Status400BadRequest);
            }

            var minutesText = context.Request.Query["minutes"].ToString();
            var minutes = 30;
            if (minutesText.Length > 0 && (!int.TryParse(minutesText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out minutes) || minutes < 1 || minutes > 7 * 24 * 60))
            {
                return Results.Text("minutes must be a whole number from 1 to 10080\n", statusCode: StatusCodes.Status400BadRequest);
            }

            var link = signer.Sign($"{context.Request.PathBase}{path}", TimeSpan.FromMinutes(minutes));
            var document = new System.Text.Json.Nodes.JsonObject
            {
                ["link"] = link,
                ["expiresInMinutes"] = minutes,
            };
            return Results.Text(document.ToJsonString(), "application/json");
        }).RequireAuthorization(WebPolicies.Admin);

        // Ends this browser's login on the appliance too (the session is removed, not just the cookie).
        app.MapPost("/logout", async (HttpContext context) =>
        {
            await context.SignOutAsync(WebAuthSchemes.Session);
            return Results.Redirect($"{context.Request.PathBase}/login");
        }).AllowAnonymous().DisableAntiforgery();

        // A lost phone: every login ends at once (view links run until they expire).
        app.MapPost("/logout/everywhere", async (HttpContext context, SessionStore sessions) =>
        {
            var ended = sessions.RevokeAll();
            await context.SignOutAsync(WebAuthSchemes.Session);
            return Results.Text($"{ended} logins ended.\n");
        }).RequireAuthorization(WebPolicies.Admin).DisableAntiforgery();
        app.MapSetup();
        return app;
    }

    private static IResult FormTooLarge(HttpContext context)
    {
        // Connection: close, so a client still sending the rest is not read on.
        context.Response.Headers.Connection = "close";
        return Results.Text(FormTooLargeMessage, statusCode: StatusCodes.Status413PayloadTooLarge);
    }

    /// <summary>
    /// Only a local path may be a return address (no open redirect to another site). Characters a Location header
    /// cannot carry (controls such as a decoded %0a, spaces, non-ASCII such as U+3000) are percent-encoded as UTF-8,
    /// so they neither break the header (a 500 that lost the login) nor inject one.
    /// </summary>
    internal static string SafeReturn(HttpContext context, string? candidate)
    {
        var home = $"{context.Request.PathBase}/";
        if (candidate is not { Length: > 0 and <= 4096 } c || c[0] != '/' || c.StartsWith("//", StringComparison.Ordinal) || c.Contains('\\', StringComparison.Ordinal))
        {
            return home;
        }

        if (c.All(ch => ch is > ' ' and < (char)0x7F))
        {
            return c;
        }

        var escaped = new System.Text.StringBuilder(c.Length + 16);
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var rune in c.EnumerateRunes())
        {
            if (rune.Value is > ' ' and < 0x7F)
            {
                escaped.Append((char)rune.Value);
                continue;
            }

            var length = rune.EncodeToUtf8(utf8);
            foreach (var b in utf8[..length])
            {
                escaped.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        // "/%0A/evil" stays a path here; only "//" at the start would leave the site, and it was refused above.
        return escaped.ToString();
    }
}

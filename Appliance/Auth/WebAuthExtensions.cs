using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Appliance.Auth;

/// <summary>The web-auth feature: settings, tokens, the middleware and the login form.</summary>
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
        builder.BindOptions<WebAuthOptions>(WebAuthOptions.SectionName, static (s, o) => s.Bind(o), o => o.Validate());
        builder.Services.TryAddSingleton<SignedTokens>(); // a test may put it on its own clock
        builder.Services.AddSingleton<LinkSigner>();
        builder.Services.TryAddSingleton<LoginFailureLimiter>();
        return builder;
    }

    public static WebApplication UseWebAuth(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseRouting();
        app.UseMiddleware<WebAuthMiddleware>();

        app.MapGet("/login", (HttpContext context) =>
            Results.Content(Pages.LoginPage(SafeReturn(context, context.Request.Query["return"]), null), "text/html; charset=utf-8"))
            .AllowAnonymousAccess();

        app.MapPost("/login", async (HttpContext context, WebAuthOptions options, SignedTokens tokens, LoginFailureLimiter limiter) =>
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
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                return Results.Content(Pages.LoginPage(back, "Wrong password."), "text/html; charset=utf-8");
            }

            limiter.Succeeded(context);

            context.Response.Cookies.Append(WebAuthMiddleware.SessionCookie, tokens.Create(SignedTokens.SessionKind, tokens.SessionSubject(options.User, options.PasswordSetting), options.SessionLifetime), new CookieOptions
            {
                HttpOnly = true,
                SameSite = SameSiteMode.Lax,
                Secure = context.Request.IsHttps,
                MaxAge = options.SessionLifetime,
                Path = context.Request.PathBase.HasValue ? context.Request.PathBase.Value : "/",
            });
            return Results.Redirect(back);
        }).AllowAnonymousAccess().DisableAntiforgery();

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
        });

        app.MapPost("/logout", (HttpContext context) =>
        {
            // Both ways in: the login, and a view link remembered from an earlier visit (else the page still opens).
            var cookiePath = new CookieOptions { Path = context.Request.PathBase.HasValue ? context.Request.PathBase.Value : "/" };
            context.Response.Cookies.Delete(WebAuthMiddleware.SessionCookie, cookiePath);
            context.Response.Cookies.Delete(WebAuthMiddleware.LinkCookie, cookiePath);
            return Results.Redirect($"{context.Request.PathBase}/login");
        }).AllowAnonymousAccess().DisableAntiforgery();
        return app;
    }

    private static IResult FormTooLarge(HttpContext context)
    {
        // Connection: close, so a client still sending the rest is not read on.
        context.Response.Headers.Connection = "close";
        return Results.Text(FormTooLargeMessage, statusCode: StatusCodes.Status413PayloadTooLarge);
    }

    /// <summary>Only a local path may be a return address (no open redirect to another site).</summary>
    private static string SafeReturn(HttpContext context, string? candidate)
    {
        var home = $"{context.Request.PathBase}/";
        return candidate is { Length: > 0 } c && c[0] == '/' && !c.StartsWith("//", StringComparison.Ordinal) && !c.Contains('\\', StringComparison.Ordinal)
            ? c
            : home;
    }
}

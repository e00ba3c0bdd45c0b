using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.Features;

namespace Appliance.Auth;

/// <summary>
/// The first run in the browser: while no household password is set, <c>/setup</c> lets a visitor choose it. From the
/// LAN it takes the one-time <see cref="SetupCode"/> printed in the log (wrong codes count against the same per-address
/// limit as wrong passwords); from this machine itself (a trusted loopback) no code. The password is stored hashed in
/// the browser's settings layer (<see cref="BrowserSettings"/>) and takes effect at once; the visitor is logged in.
/// Once a password exists, <c>/setup</c> refuses: it cannot be reset from the network.
/// </summary>
internal static partial class SetupEndpoints
{
    /// <summary>Shortest household password: it guards the camera and the outputs from the whole LAN.</summary>
    public const int MinPasswordLength = 8;

    /// <summary>Longest: a PBKDF2 input anyone may post before the code is known to be right costs nothing, but a limit keeps it a password.</summary>
    public const int MaxPasswordLength = 256;

    private const int MaxFormBytes = 16 * 1024;
    private static readonly Lock SetupLock = new();

    public static WebApplication MapSetup(this WebApplication app)
    {
        app.MapGet("/setup", (HttpContext context, WebAuthOptions options, RunningAs running) =>
            options.HasPassword
                ? AlreadySet()
                : Page(Pages.SetupPage(NeedsCode(context, options), null, running), StatusCodes.Status200OK))
            .AllowAnonymous();

        app.MapPost("/setup", async (HttpContext context, WebAuthOptions options, SetupCode code, LoginFailureLimiter limiter,
            BrowserSettings settings, SessionStore sessions, RunningAs running, ILogger<SetupCode> logger) =>
        {
            var (form, bad) = await ReadSmallFormAsync(context, "POST /setup takes the setup form (application/x-www-form-urlencoded) with the fields code and password");
            if (form is null)
            {
                return bad!;
            }

            if (options.HasPassword)
            {
                return AlreadySet();
            }

            var needsCode = NeedsCode(context, options);
            if (needsCode)
            {
                if (!limiter.TryBeginAttempt(context, out var wait))
                {
                    context.Response.Headers.RetryAfter = LoginFailureLimiter.RetryAfterSeconds(wait);
                    return Page(Pages.SetupPage(needsCode, $"Too many wrong setup codes from your address. Wait {LoginFailureLimiter.Describe(wait)}, then try again.", running),
                        StatusCodes.Status429TooManyRequests);
                }

                if (!code.Matches(form["code"].ToString()))
                {
                    limiter.Failed(context, "setup code");
                    return Page(Pages.SetupPage(needsCode, "Wrong setup code. It is in the appliance's log (a line with 'setup code') and in 'Appliance doctor'.", running),
                        StatusCodes.Status401Unauthorized);
                }

                limiter.Succeeded(context);
            }

            var password = form["password"].ToString();
            if (PasswordProblem(password, form["confirm"]) is { } problem)
            {
                return Page(Pages.SetupPage(needsCode, problem, running), StatusCodes.Status400BadRequest);
            }

            var hash = PasswordHasher.Hash(password);
            lock (SetupLock)
            {
                // Two visitors at once: the first one's password stands.
                if (options.HasPassword)
                {
                    return AlreadySet();
                }

                settings.Set(new Dictionary<string, string?> { ["Web:PasswordHash"] = hash });
                options.PasswordHash = hash;
                sessions.PasswordChanged(options);
                code.Forget();
            }

            LogPasswordSet(logger, context.Connection.RemoteIpAddress?.ToString() ?? "?", settings.Path);
            await context.SignInAsync(WebAuthSchemes.Session, new System.Security.Claims.ClaimsPrincipal(new System.Security.Claims.ClaimsIdentity(
                [new System.Security.Claims.Claim(System.Security.Claims.ClaimTypes.Name, options.User)], WebAuthSchemes.Session)));
            return Results.Redirect($"{context.Request.PathBase}/");
        }).AllowAnonymous().DisableAntiforgery();
        return app;
    }

    /// <summary>
    /// Reads a small form (at most 16 KiB, also when chunked); a body that is not a form, or is too large or malformed,
    /// gets a 400 saying <paramref name="whatItTakes"/> instead of a 500.
    /// </summary>
    internal static async Task<(IFormCollection? Form, IResult? Error)> ReadSmallFormAsync(HttpContext context, string whatItTakes)
    {
        var bad = Results.Text($"{whatItTakes} (at most 16 KiB).\n", statusCode: StatusCodes.Status400BadRequest);
        if (!context.Request.HasFormContentType || context.Request.ContentLength > MaxFormBytes)
        {
            return (null, bad);
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxFormBytes;
        }

        try
        {
            return (await context.Request.ReadFormAsync(context.RequestAborted), null);
        }
        catch (Exception ex) when (ex is InvalidDataException or BadHttpRequestException)
        {
            return (null, bad);
        }
    }

    /// <summary>The household password's length rule, shared by the setup and settings pages; null when it is fine.</summary>
    internal static string? PasswordProblem(string password, Microsoft.Extensions.Primitives.StringValues confirm) =>
        password.Length < MinPasswordLength || password.Length > MaxPasswordLength
            ? $"The password must be {MinPasswordLength} to {MaxPasswordLength} characters long (it has {password.Length})."
            : confirm.Count > 0 && confirm.ToString() != password // the field is optional for scripts; a form sends it
                ? "The two passwords differ; type the same one twice."
                : null;

    /// <summary>This machine itself (not the tunnel), while it is trusted anyway, needs no code.</summary>
    private static bool NeedsCode(HttpContext context, WebAuthOptions options) => !(options.TrustLoopback && context.IsLocal());

    private static IResult AlreadySet() => Page(Pages.SetupDonePage, StatusCodes.Status403Forbidden);

    private static IResult Page(string html, int status) => Results.Content(html, "text/html; charset=utf-8", statusCode: status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The household password was set on the setup page from {Remote}; stored hashed in {File}; the one-time code is dead")]
    private static partial void LogPasswordSet(ILogger logger, string remote, string file);
}

/// <summary>Prints the setup code at start while no password is set (and kills a stale one once a password exists).</summary>
internal sealed class SetupCodeAnnouncer(SetupCode code) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        code.Announce();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

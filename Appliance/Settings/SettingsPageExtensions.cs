using System.Globalization;
using Appliance.Auth;
using Appliance.WeCom;
using Appliance.WeCom.Api;
using Camera;
using Microsoft.AspNetCore.Authentication;

namespace Appliance.Settings;

/// <summary>
/// The admin's settings page, <c>/settings</c>: the household password (changing it ends every login at once) and the
/// camera's size, rate and quality (stored now, in effect at the next start of the appliance: the capture pipeline and
/// everything sized from it are built once at start). What it stores goes to the browser's settings layer
/// (<see cref="BrowserSettings"/>); a key that an environment variable or the command line sets is shown as overridden
/// and not changed. Secrets are never shown back.
/// </summary>
public static partial class SettingsPageExtensions
{
    public static WebApplication MapSettingsPage(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGet("/settings", (HttpContext context, CameraOptions camera, WebAuthOptions web, IConfiguration configuration) =>
            Page(SettingsPage.Render(context, camera, web, configuration, null, null), StatusCodes.Status200OK))
            .RequireAuthorization(WebPolicies.Admin);

        app.MapPost("/settings/password", async (HttpContext context, WebAuthOptions web, CameraOptions camera, IConfiguration configuration,
            BrowserSettings settings, SessionStore sessions, BasicCredentialCache basic, ILogger<SettingsPage> logger) =>
        {
            var (form, bad) = await SetupEndpoints.ReadSmallFormAsync(context, "POST /settings/password takes a form with the fields password and confirm");
            if (form is null)
            {
                return bad!;
            }

            var overridden = BrowserSettings.OverriddenBy(configuration, "Web:Password") ?? BrowserSettings.OverriddenBy(configuration, "Web:PasswordHash");
            if (overridden is not null)
            {
                return Page(SettingsPage.Render(context, camera, web, configuration, null,
                    $"The password is set by {overridden}, which overrides this page: change it there."), StatusCodes.Status409Conflict);
            }

            var password = form["password"].ToString();
            if (SetupEndpoints.PasswordProblem(password, form["confirm"]) is { } problem)
            {
                return Page(SettingsPage.Render(context, camera, web, configuration, null, problem), StatusCodes.Status400BadRequest);
            }

            var hash = PasswordHasher.Hash(password);
            settings.Set(new Dictionary<string, string?> { ["Web:PasswordHash"] = hash });
            web.PasswordHash = hash;
            web.Password = ""; // an older one in secrets.json is overridden by this layer from now on, and at the next start
            sessions.PasswordChanged(web); // every login ends, this one too
            basic.Clear();
            await context.SignOutAsync(WebAuthSchemes.Session);
            LogPasswordChanged(logger, context.Connection.RemoteIpAddress?.ToString() ?? "?");
            return Results.Redirect($"{context.Request.PathBase}/login?return={Uri.EscapeDataString($"{context.Request.PathBase}/settings")}");
        }).RequireAuthorization(WebPolicies.Admin).DisableAntiforgery();

        app.MapPost("/settings/camera", async (HttpContext context, WebAuthOptions web, CameraOptions camera, IConfiguration configuration,
            BrowserSettings settings) =>
        {
            var (form, bad) = await SetupEndpoints.ReadSmallFormAsync(context, "POST /settings/camera takes a form with the fields width, height, fps and quality");
            if (form is null)
            {
                return bad!;
            }

            var chosen = new CameraOptions
            {
                Source = camera.Source,
                Device = camera.Device,
                File = camera.File,
                Command = camera.Command,
                IdleFps = camera.IdleFps,
            };
            var errors = new List<string>();
            chosen.Width = Whole(form, "width", camera.Width, errors);
            chosen.Height = Whole(form, "height", camera.Height, errors);
            chosen.Fps = Whole(form, "fps", camera.Fps, errors);
            chosen.Quality = Whole(form, "quality", camera.Quality, errors);
            errors.AddRange(chosen.Validate());
            if (errors.Count > 0)
            {
                return Page(SettingsPage.Render(context, camera, web, configuration, null, string.Join(" ", errors)), StatusCodes.Status400BadRequest);
            }

            var values = new Dictionary<string, string?>
            {
                ["Camera:Width"] = chosen.Width.ToString(CultureInfo.InvariantCulture),
                ["Camera:Height"] = chosen.Height.ToString(CultureInfo.InvariantCulture),
                ["Camera:Fps"] = chosen.Fps.ToString(CultureInfo.InvariantCulture),
                ["Camera:Quality"] = chosen.Quality.ToString(CultureInfo.InvariantCulture),
            };
            settings.Set(values);
            var overridden = values.Keys.Select(k => (Key: k, By: BrowserSettings.OverriddenBy(configuration, k))).Where(o => o.By is not null)
                .Select(o => $"{o.Key} (set by {o.By})").ToList();
            var note = $"Saved: {chosen.Width}x{chosen.Height} at {chosen.Fps} fps, quality {chosen.Quality}. " + SettingsPage.CameraAppliesAt
                + (overridden.Count > 0 ? $" Overridden, so not in effect even then: {string.Join(", ", overridden)}." : "");
            return Page(SettingsPage.Render(context, camera, web, configuration, note, null), StatusCodes.Status200OK);
        }).RequireAuthorization(WebPolicies.Admin).DisableAntiforgery();

        app.MapPost("/settings/wecom", async (HttpContext context, WebAuthOptions web, CameraOptions camera, IConfiguration configuration,
            WeComOptions wecom, BrowserSettings settings, IWeComEgress egress, TimeProvider time, ILoggerFactory loggers) =>
        {
            var (form, bad) = await SetupEndpoints.ReadSmallFormAsync(context, "POST /settings/wecom takes a form with the fields corpId, agentId, secret and action (save or test)");
            if (form is null)
            {
                return bad!;
            }

            var test = form["action"].ToString() == "test";
            var (chosen, problem) = WeComSettings.Read(form, wecom, settings.Get, needsSecret: test);
            if (chosen is null)
            {
                return Page(SettingsPage.Render(context, camera, web, configuration, null, problem), StatusCodes.Status400BadRequest);
            }

            if (test)
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
                timeout.CancelAfter(TimeSpan.FromSeconds(30));
                var (ok, text) = await WeComSettings.TestAsync(chosen, egress, time, loggers, timeout.Token);
                return Page(SettingsPage.Render(context, camera, web, configuration, ok ? text : null, ok ? null : text), StatusCodes.Status200OK);
            }

            // Saved settings the appliance could not start with would lose the next start: all of them, or none.
            if (chosen.Validate().ToList() is { Count: > 0 } errors)
            {
                return Page(SettingsPage.Render(context, camera, web, configuration, null, "Not saved: " + string.Join(" ", errors)), StatusCodes.Status400BadRequest);
            }

            var values = new Dictionary<string, string?>
            {
                ["WeCom:CorpId"] = chosen.CorpId,
                ["WeCom:AgentId"] = chosen.AgentId.ToString(CultureInfo.InvariantCulture),
            };
            foreach (var (field, key, value) in new[] { ("secret", "WeCom:Secret", chosen.Secret), ("token", "WeCom:Token", chosen.Token), ("encodingAesKey", "WeCom:EncodingAesKey", chosen.EncodingAesKey) })
            {
                if (form[field].ToString().Trim().Length > 0)
                {
                    values[key] = value;
                }
            }

            settings.Set(values);
            var overridden = values.Keys.Select(k => (Key: k, By: BrowserSettings.OverriddenBy(configuration, k))).Where(o => o.By is not null)
                .Select(o => $"{o.Key} (set by {o.By})").ToList();
            return Page(SettingsPage.Render(context, camera, web, configuration,
                "Saved the WeCom app's settings. " + SettingsPage.AppliesAtNextStart
                + (overridden.Count > 0 ? $" Overridden, so not in effect even then: {string.Join(", ", overridden)}." : ""), null), StatusCodes.Status200OK);
        }).RequireAuthorization(WebPolicies.Admin).DisableAntiforgery();

        app.MapPost("/settings/tunnel", async (HttpContext context, WebAuthOptions web, CameraOptions camera, IConfiguration configuration,
            Appliance.Tunnel.TunnelOptions tunnel, BrowserSettings settings) =>
        {
            var (form, bad) = await SetupEndpoints.ReadSmallFormAsync(context, "POST /settings/tunnel takes a form with the fields relayUrl, name, secret and action (save or test)");
            if (form is null)
            {
                return bad!;
            }

            var chosen = TunnelSettings.Read(form, tunnel, settings.Get);
            var errors = chosen.Enabled ? chosen.Validate().ToList() : ["Tunnel:RelayUrl is empty: the relay's wss:// address, e.g. wss://relay.example.org/."];
            if (errors.Count > 0)
            {
                return Page(SettingsPage.Render(context, camera, web, configuration, null, "Not saved or tested: " + string.Join(" ", errors)), StatusCodes.Status400BadRequest);
            }

            if (form["action"].ToString() == "test")
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
                timeout.CancelAfter(TimeSpan.FromSeconds(20));
                var (ok, text) = await TunnelSettings.TestAsync(chosen, timeout.Token);
                return Page(SettingsPage.Render(context, camera, web, configuration, ok ? text : null, ok ? null : text), StatusCodes.Status200OK);
            }

            var values = new Dictionary<string, string?> { ["Tunnel:RelayUrl"] = chosen.RelayUrl, ["Tunnel:Name"] = chosen.Name };
            if (form["secret"].ToString().Trim().Length > 0)
            {
                values["Tunnel:Secret"] = chosen.Secret;
            }

            settings.Set(values);
            return Page(SettingsPage.Render(context, camera, web, configuration, "Saved the tunnel's settings. " + SettingsPage.AppliesAtNextStart, null), StatusCodes.Status200OK);
        }).RequireAuthorization(WebPolicies.Admin).DisableAntiforgery();
        return app;
    }

    private static int Whole(IFormCollection form, string field, int current, List<string> errors)
    {
        var text = form[field].ToString().Trim();
        if (text.Length == 0)
        {
            return current;
        }

        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }

        errors.Add($"{field} must be a whole number (got '{text}').");
        return current;
    }

    private static IResult Page(string html, int status)
    {
        return Results.Content(html, "text/html; charset=utf-8", statusCode: status);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The household password was changed on the settings page from {Remote}; every login ended")]
    private static partial void LogPasswordChanged(ILogger logger, string remote);
}

/// <summary>The settings page's HTML (and the logger category of its changes).</summary>
internal sealed class SettingsPage
{
    internal const string AppliesAtNextStart =
        "They take effect when the appliance next starts (installed: sudo systemctl restart appliance; run.sh: stop it with Ctrl+C and start it again).";

    internal const string CameraAppliesAt =
        "The camera's new settings take effect when the appliance next starts (installed: sudo systemctl restart appliance; run.sh: stop it with Ctrl+C and start it again).";

    private SettingsPage()
    {
    }

    internal static string Render(HttpContext context, CameraOptions camera, WebAuthOptions web, IConfiguration configuration, string? note, string? error)
    {
        static string Html(string text) => System.Net.WebUtility.HtmlEncode(text);
        var wecom = context.RequestServices.GetRequiredService<WeComOptions>();
        var tunnel = context.RequestServices.GetRequiredService<Appliance.Tunnel.TunnelOptions>();
        string Overridden(string key) => BrowserSettings.OverriddenBy(configuration, key) is { } by ? $" <small>(set by {Html(by)}; this page cannot change it)</small>" : "";
        var message = error is not null
            ? $"""<p role="alert" style="color:#b00">{Html(error)}</p>"""
            : note is not null ? $"""<p role="status" style="color:#060">{Html(note)}</p>""" : "";
        var min = SetupEndpoints.MinPasswordLength;
        return $"""
            <!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
            <title>Settings</title></head><body style="font-family:sans-serif;max-width:34em;margin:2em auto;padding:0 1em">
            <h1>Settings</h1>
            {message}
            <h2>Household password</h2>
            <p>Password: {(web.HasPassword ? "set" : "not set")}. User name for apps (VLC, Home Assistant): <code>{Html(web.User)}</code>.{Overridden("Web:PasswordHash")}</p>
            <form method="post" action="{Html(context.Request.PathBase)}/settings/password">
            <p><label>New password (at least {min} characters) <input type="password" name="password" autocomplete="new-password" minlength="{min}" required></label></p>
            <p><label>Same password again <input type="password" name="confirm" autocomplete="new-password" required></label></p>
            <p>Changing it ends every login, this one too: everyone logs in again with the new password.</p>
            <button type="submit" name="change" value="password">Change the password</button></form>
            <h2>Camera</h2>
            <form method="post" action="{Html(context.Request.PathBase)}/settings/camera">
            <p><label>Width <input type="number" name="width" value="{camera.Width}" min="16" max="4096" step="2"></label>{Overridden("Camera:Width")}
            <label>Height <input type="number" name="height" value="{camera.Height}" min="16" max="4096" step="2"></label>{Overridden("Camera:Height")}</p>
            <p><label>Frames per second <input type="number" name="fps" value="{camera.Fps}" min="1" max="120"></label>{Overridden("Camera:Fps")}</p>
            <p><label>JPEG quality <input type="number" name="quality" value="{camera.Quality}" min="1" max="100"></label>{Overridden("Camera:Quality")}</p>
            <p>{Html(CameraAppliesAt)} The values shown are the ones in effect now.</p>
            <button type="submit" name="change" value="camera">Save the camera settings</button></form>
            <h2>WeCom app (企业微信)</h2>
            <form method="post" action="{Html(context.Request.PathBase)}/settings/wecom">
            <p><label>CorpID (企业ID) <input name="corpId" value="{Html(wecom.CorpId)}" autocomplete="off"></label>{Overridden("WeCom:CorpId")}</p>
            <p><label>AgentId <input type="number" name="agentId" value="{(wecom.AgentId > 0 ? wecom.AgentId.ToString(System.Globalization.CultureInfo.InvariantCulture) : "")}" min="1"></label>{Overridden("WeCom:AgentId")}</p>
            <p><label>Secret <input type="password" name="secret" autocomplete="off" placeholder="{(wecom.Secret.Length > 0 ? "set (leave empty to keep it)" : "not set")}"></label>{Overridden("WeCom:Secret")}</p>
            <p><label>Token (callback) <input type="password" name="token" autocomplete="off" placeholder="{(wecom.Token.Length > 0 ? "set (leave empty to keep it)" : "not set")}"></label>{Overridden("WeCom:Token")}</p>
            <p><label>EncodingAESKey (callback) <input type="password" name="encodingAesKey" autocomplete="off" placeholder="{(wecom.EncodingAesKey.Length > 0 ? "set (leave empty to keep it)" : "not set")}"></label>{Overridden("WeCom:EncodingAesKey")}</p>
            <p>Secret: {(wecom.Secret.Length > 0 ? "set" : "not set")}; Token: {(wecom.Token.Length > 0 ? "set" : "not set")}; EncodingAESKey: {(wecom.EncodingAesKey.Length > 0 ? "set" : "not set")}. <b>Test</b> asks WeCom for a token with these values and sends a test message to the admins ({Html(wecom.Admins.Length > 0 ? string.Join(", ", wecom.Admins) : "WeCom:Admins names nobody")}). {Html(AppliesAtNextStart)}</p>
            <button type="submit" name="action" value="test">Test</button> <button type="submit" name="action" value="save">Save</button></form>
            <h2>Tunnel to a relay</h2>
            <form method="post" action="{Html(context.Request.PathBase)}/settings/tunnel">
            <p><label>Relay URL <input name="relayUrl" value="{Html(tunnel.RelayUrl)}" placeholder="wss://relay.example.org/"></label>{Overridden("Tunnel:RelayUrl")}</p>
            <p><label>Name on the relay <input name="name" value="{Html(tunnel.Name)}" autocomplete="off"></label>{Overridden("Tunnel:Name")}</p>
            <p><label>Secret <input type="password" name="secret" autocomplete="off" placeholder="{(tunnel.Secret.Length > 0 ? "set (leave empty to keep it)" : "not set")}"></label>{Overridden("Tunnel:Secret")}</p>
            <p>Secret: {(tunnel.Secret.Length > 0 ? "set" : "not set")}. <b>Test</b> connects to the relay and logs in with these values. {Html(AppliesAtNextStart)}</p>
            <button type="submit" name="action" value="test">Test</button> <button type="submit" name="action" value="save">Save</button></form>
            <p><a href="{Html(context.Request.PathBase)}/">Back to the camera</a></p>
            </body></html>
            """;
    }
}

namespace Appliance.Auth;

/// <summary>The small HTML pages of the login flow.</summary>
internal static class Pages
{
    /// <summary>
    /// For a request that needs a login while no password is set (not a browser page load, which goes to the setup
    /// page's link here too): how to set one, in the words that fit how the appliance runs.
    /// </summary>
    public static string NoPasswordPage(RunningAs running)
    {
        var onTheAppliance = running.UnderSystemd ? ServiceAdvice : RunByHandAdvice;
        return $"""
            <!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
            <title>Set a password first</title></head><body style="font-family:sans-serif;max-width:40em;margin:2em auto">
            <h1>This appliance has no password yet</h1>
            <p>Only this machine itself (localhost) may watch until a password is set.</p>
            <p><a href="setup">Choose the household password here</a>, with the <b>setup code</b> from the appliance's log
            ({Html(running.WhereTheLogIs)}) or from <code>{Html(running.DoctorCommand)}</code>.</p>
            <p>Or, on the appliance, {onTheAppliance}</p>
            </body></html>
            """;
    }

    private const string ServiceAdvice =
        """put <code>{"Web": {"Password": "…"}}</code> in <code>/etc/appliance/secrets.json</code> (readable by root only), """
        + """or run <code>Appliance hash-password</code> and put the printed hash in <code>Web:PasswordHash</code> there; """
        + """then restart it: <code>sudo systemctl restart appliance</code>.""";

    private const string RunByHandAdvice =
        """start it with the password on the command line: <code>./Appliance/run.sh --Web:Password=…</code>, """
        + """or run <code>Appliance hash-password</code> and start it with <code>--Web:PasswordHash=…</code> (the printed hash).""";

    /// <summary>The first-run form: the setup code (not asked of this machine itself) and the password, twice.</summary>
    public static string SetupPage(bool needsCode, string? error, RunningAs running)
    {
        var alert = error is null ? "" : $"""<p role="alert" style="color:#b00">{Html(error)}</p>""";
        var code = needsCode
            ? $"""
              <p>The <b>setup code</b> is in the appliance's log, a line with “setup code” ({Html(running.WhereTheLogIs)}), and shown by <code>{Html(running.DoctorCommand)}</code>.</p>
              <p><label>Setup code <input name="code" autocomplete="off" autocapitalize="none" required autofocus></label></p>
              """
            : "<p>You are on the appliance itself: no setup code needed.</p>";
        const int min = SetupEndpoints.MinPasswordLength;
        return $"""
            <!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
            <title>Set up the appliance</title></head><body style="font-family:sans-serif;max-width:30em;margin:3em auto;padding:0 1em">
            <h1>Choose the household password</h1>
            <p>Family members log in with it on their phones and computers.</p>
            {alert}
            <form method="post" action="setup">
            {code}
            <p><label>Password (at least {min} characters) <input type="password" name="password" autocomplete="new-password" minlength="{min}" required></label></p>
            <p><label>Same password again <input type="password" name="confirm" autocomplete="new-password" required></label></p>
            <button type="submit">Set the password</button></form></body></html>
            """;
    }

    /// <summary>/setup once a password exists: it cannot be changed from here.</summary>
    public const string SetupDonePage = """
        <!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
        <title>Already set up</title></head><body style="font-family:sans-serif;max-width:30em;margin:3em auto;padding:0 1em">
        <h1>The household password is already set</h1>
        <p>The setup page works only once. <a href="login">Log in</a>; an admin can change the password in the settings.
        A forgotten password can only be reset on the appliance itself.</p></body></html>
        """;

    private static string Html(string text) => System.Net.WebUtility.HtmlEncode(text);

    public static string LoginPage(string returnUrl, string? error) => $$"""
        <!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
        <title>Log in</title></head><body style="font-family:sans-serif;max-width:24em;margin:3em auto">
        <h1>Camera</h1>
        {{(error is null ? "" : $"<p role=\"alert\" style=\"color:#b00\">{System.Net.WebUtility.HtmlEncode(error)}</p>")}}
        <form method="post" action="login">
        <input type="hidden" name="return" value="{{System.Net.WebUtility.HtmlEncode(returnUrl)}}">
        <label>Password <input type="password" name="password" autofocus required></label>
        <button type="submit">Log in</button></form></body></html>
        """;

    /// <summary>
    /// For a browser whose view link (<c>?t=</c>) has expired or is not valid: what happened and how to get a new one,
    /// in Chinese and English, and the login form for those who know the password (<paramref name="loginUrl"/>, null when none is set).
    /// </summary>
    public static string LinkProblemPage(bool expired, string? loginUrl)
    {
        var (title, zh, en) = expired
            ? ("链接已过期 · Link expired", "这个观看链接已过期。", "This view link has expired.")
            : ("链接无效 · Link not valid", "这个观看链接无效（可能被改动或没有复制完整）。", "This view link is not valid (it was changed, or not copied whole).");
        var login = loginUrl is null
            ? ""
            : $"""<p>知道家里的密码？<a href="{System.Net.WebUtility.HtmlEncode(loginUrl)}">登录 · Log in</a> · Know the household password? Log in instead.</p>""";
        return $"""
            <!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
            <title>{title}</title></head><body style="font-family:sans-serif;max-width:30em;margin:3em auto;padding:0 1em">
            <h1>{title}</h1>
            <p>{zh}请在企业微信里给家里的应用发送“直播”，获取新的链接。</p>
            <p lang="en">{en} Send “live” (直播) to the household's WeCom app for a new link.</p>
            {login}
            </body></html>
            """;
    }
}

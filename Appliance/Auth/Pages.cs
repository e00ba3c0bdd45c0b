namespace Appliance.Auth;

/// <summary>The small HTML pages of the login flow.</summary>
internal static class Pages
{
    public const string NoPasswordPage = """
        <!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
        <title>Set a password first</title></head><body style="font-family:sans-serif;max-width:40em;margin:2em auto">
        <h1>This appliance has no password yet</h1>
        <p>Only this machine itself (localhost) may watch until a password is set. On the appliance, either</p>
        <ol><li>put <code>{"Web": {"Password": "…"}}</code> in <code>/etc/appliance/secrets.json</code> (readable by root only), or</li>
        <li>run <code>Appliance hash-password</code> and put the printed hash in <code>Web:PasswordHash</code>,</li></ol>
        <p>then restart it: <code>sudo systemctl restart appliance</code>.</p></body></html>
        """;

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

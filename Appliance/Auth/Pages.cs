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
}

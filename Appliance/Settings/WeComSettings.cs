using System.Globalization;
using System.Text.RegularExpressions;
using Appliance.WeCom;
using Appliance.WeCom.Api;

namespace Appliance.Settings;

/// <summary>
/// The settings page's WeCom part: the app's CorpID, AgentId and Secret (stored in the browser's layer, in effect at
/// the next start), and <b>Test</b>: with the values on the form (a blank Secret: the one set), gettoken, then a text
/// message to <c>WeCom:Admins</c>, through the same egress the appliance's own calls take (the relay tunnel when one
/// is set), so that WeCom's answer (e.g. 60020 and the address it saw) is the one the appliance would get.
/// </summary>
internal static partial class WeComSettings
{
    internal const string TestMessage = "Test from the appliance's settings page: WeCom messages reach you. 设置页的测试消息：企业微信消息可以送达。";

    /// <summary>
    /// The values the form asks for; null with an error when one is not usable. A blank Secret keeps the one saved on
    /// this page (not yet in effect until the next start), else the one in effect; only a test needs one.
    /// </summary>
    internal static (WeComOptions? Chosen, string? Error) Read(IFormCollection form, WeComOptions current, Func<string, string?> saved, bool needsSecret)
    {
        var corpId = form["corpId"].ToString().Trim();
        var agentText = form["agentId"].ToString().Trim();
        var secret = form["secret"].ToString().Trim();
        if (corpId.Length == 0)
        {
            return (null, "CorpID (企业ID) is empty: copy it from My Company (我的企业) in the WeCom admin console.");
        }

        if (!int.TryParse(agentText, NumberStyles.None, CultureInfo.InvariantCulture, out var agentId) || agentId < 1)
        {
            return (null, $"AgentId must be the app's whole number from App Management (应用管理) (got '{agentText}').");
        }

        string Kept(string field, string key, string inEffect) =>
            form[field].ToString().Trim() is { Length: > 0 } typed ? typed : saved(key) is { Length: > 0 } kept ? kept : inEffect;
        secret = Kept("secret", "WeCom:Secret", current.Secret);
        if (secret.Length == 0 && needsSecret)
        {
            return (null, "Secret is empty: copy the app's Secret from App Management (应用管理) → your app.");
        }

        return (new WeComOptions
        {
            CorpId = corpId,
            AgentId = agentId,
            Secret = secret,
            Token = Kept("token", "WeCom:Token", current.Token),
            EncodingAesKey = Kept("encodingAesKey", "WeCom:EncodingAesKey", current.EncodingAesKey),
            ApiBaseUrl = current.ApiBaseUrl,
            Admins = current.Admins,
        }, null);
    }

    /// <summary>gettoken, then the test message to the admins: what happened, in words for the page.</summary>
    internal static async Task<(bool Ok, string Text)> TestAsync(
        WeComOptions chosen, IWeComEgress egress, TimeProvider time, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        using var http = new WeComHttp(chosen, egress);
        var tokens = new AccessTokenCache(new WeComTokenSource(chosen, http, time), null, time, loggers.CreateLogger<WeComApiClient>());
        try
        {
            await tokens.GetAsync(cancellationToken);
        }
        catch (AccessTokenException ex)
        {
            return (false, $"gettoken refused ({http.Egress} egress): {ex.Message}. {Hint(ex.ErrCode, ex.Message, http.Egress)}");
        }

        if (chosen.Admins.Length == 0)
        {
            return (true, "gettoken succeeded: the CorpID and Secret are right. No test message sent: WeCom:Admins names nobody.");
        }

        var client = new WeComApiClient(chosen, http, tokens, time, loggers.CreateLogger<WeComApiClient>());
        var sent = await client.SendAsync(string.Join('|', chosen.Admins), new TextMessage(TestMessage), cancellationToken);
        if (!sent.IsSuccess)
        {
            return (false, $"gettoken succeeded, but sending the test message failed: errcode {sent.Error!.ErrCode} ({sent.Error.Message}). {Hint(sent.Error.ErrCode, sent.Error.Message, http.Egress)}");
        }

        return sent.Value!.InvalidUser.Length > 0
            ? (false, $"gettoken succeeded; WeCom did not deliver to these admins (not members the app can reach: check the app's visible range 可见范围): {sent.Value.InvalidUser}.")
            : (true, $"gettoken succeeded and the test message went to {string.Join(", ", chosen.Admins)}: check WeCom.");
    }

    private static string Hint(int errcode, string message, string egress) => errcode switch
    {
        WeComApiClient.IpNotAllowed => FromIp().Match(message) is { Success: true } ip
            ? $"Add {ip.Groups[1].Value} to the app's trusted IPs (企业可信IP) in App Management (应用管理), or route the calls through a relay whose address is trusted."
            : $"The address these calls come from ({egress}) is not a trusted IP (企业可信IP) of the app: add it in App Management (应用管理), or route the calls through a relay whose address is trusted.",
        40013 => "The CorpID is wrong: copy 企业ID from My Company (我的企业).",
        40001 or 40091 => "The Secret is wrong: copy the app's Secret from App Management (应用管理) → your app.",
        81013 => "None of WeCom:Admins is a member the app can reach.",
        _ => "",
    };

    [GeneratedRegex(@"from ip:\s*([0-9a-fA-F:.]+)", RegexOptions.CultureInvariant)]
    private static partial Regex FromIp();
}

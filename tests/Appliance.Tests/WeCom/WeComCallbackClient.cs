using System.Globalization;
using System.Net;
using System.Text;
using Appliance.Tests.Infrastructure;
using Appliance.WeCom.Callback;
using Appliance.WeCom.Crypto;

namespace Appliance.Tests.WeCom;

/// <summary>Plays WeCom's side of the callback: encrypts and signs messages, posts them, decrypts passive replies.</summary>
public sealed class WeComCallbackClient(HttpClient http)
{
    public const string Token = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo";
    public const string AesKey = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt";
    public const int AgentId = 1000002;

    private static long _msgId = DateTime.UtcNow.Ticks;

    public WeComCrypto Crypto { get; } = new(Token, AesKey, FakeWeComServer.CorpId);

    /// <summary>The appliance settings for the fake app; Alice may use it, Dad is an admin.</summary>
    public static string[] Settings(FakeWeComServer? api, params string[] extra) =>
    [
        $"--WeCom:CorpId={FakeWeComServer.CorpId}", $"--WeCom:Token={Token}", $"--WeCom:EncodingAesKey={AesKey}",
        $"--WeCom:Secret={FakeWeComServer.Secret}", $"--WeCom:AgentId={AgentId}",
        $"--WeCom:ApiBaseUrl={api?.BaseAddress.ToString() ?? "http://127.0.0.1:9/"}",
        "--WeCom:AllowedUsers:0=alice", "--WeCom:Admins:0=dad", .. extra,
    ];

    public static WeComCallbackClient For(ApplianceServer server) => new(server.CreateClient());

    public static string NextMsgId() => Interlocked.Increment(ref _msgId).ToString(CultureInfo.InvariantCulture);

    public static string TextXml(string from, string content, string msgId, long? createTime = null) =>
        $"<xml><ToUserName><![CDATA[{FakeWeComServer.CorpId}]]></ToUserName><FromUserName><![CDATA[{from}]]></FromUserName><CreateTime>{createTime ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds()}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content><MsgId>{msgId}</MsgId><AgentID>{AgentId}</AgentID></xml>";

    public static string EventXml(string from, string eventName, long createTime, string eventKey = "") =>
        $"<xml><ToUserName><![CDATA[{FakeWeComServer.CorpId}]]></ToUserName><FromUserName><![CDATA[{from}]]></FromUserName><CreateTime>{createTime}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{eventName}]]></Event><EventKey><![CDATA[{eventKey}]]></EventKey><AgentID>{AgentId}</AgentID></xml>";

    /// <summary>The body and query WeCom would send for <paramref name="plainXml"/>.</summary>
    public (string Query, string Body) Envelope(string plainXml, DateTimeOffset? at = null, string? encryptOverride = null)
    {
        var timestamp = FakeWeComServer.Unix(at ?? DateTimeOffset.UtcNow);
        var nonce = Random.Shared.Next(100000, int.MaxValue).ToString(CultureInfo.InvariantCulture);
        var encrypt = encryptOverride ?? Crypto.Encrypt(plainXml);
        var signature = Crypto.Signature(timestamp, nonce, encrypt);
        var body = $"<xml><ToUserName><![CDATA[{FakeWeComServer.CorpId}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt><AgentID><![CDATA[{AgentId}]]></AgentID></xml>";
        return ($"?msg_signature={signature}&timestamp={timestamp}&nonce={nonce}", body);
    }

    /// <summary>Posts a callback as given; <paramref name="chunked"/> sends it without a Content-Length.</summary>
    public Task<HttpResponseMessage> PostRawAsync(string query, string body, bool chunked = false)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/wecom/callback" + query) { Content = new StringContent(body, Encoding.UTF8, "text/xml") };
        request.Headers.TransferEncodingChunked = chunked;
        return http.SendAsync(request);
    }

    public Task<HttpResponseMessage> PostAsync(string plainXml)
    {
        var (query, body) = Envelope(plainXml);
        return PostRawAsync(query, body);
    }

    /// <summary>Verifies and decrypts a passive reply; returns its plaintext fields.</summary>
    public async Task<Dictionary<string, string>> ReadReplyAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var outer = CallbackXml.ReadFields(await response.Content.ReadAsStringAsync(), 1 << 20);
        Crypto.VerifySignature(outer["MsgSignature"], outer["TimeStamp"], outer["Nonce"], outer["Encrypt"]);
        var plain = Crypto.Decrypt(outer["Encrypt"]);
        var fields = CallbackXml.ReadFields(plain, 1 << 20);
        fields["_xml"] = plain;
        return fields;
    }
}

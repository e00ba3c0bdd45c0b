using System.Text;
using System.Text.Json;
using Appliance.WeCom.Callback;
using Appliance.WeCom.Crypto;

namespace Appliance.Tests.WeCom;

/// <summary>Every vector set in wecom-vectors.json (official docs, official Python sample, wechatpy, node-webot).</summary>
public sealed class WeComCryptoTests
{
    private static readonly JsonElement Vectors = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "WeCom", "wecom-vectors.json"))).RootElement;

    public static TheoryData<string> AppSets => new() { "official_doc_QDG6eK", "official_python_sample_ww1436", "wechatpy_tests" };

    private static WeComCrypto CryptoFor(JsonElement set) =>
        new(set.GetProperty("token").GetString()!, set.GetProperty("encodingAESKey").GetString()!, set.GetProperty("receiveId").GetString()!);

    [Theory]
    [MemberData(nameof(AppSets))]
    public void Decrypt_PostVector_YieldsPlaintextLengthAndPad(string name)
    {
        var set = Vectors.GetProperty(name);
        var post = set.GetProperty("post");
        var crypto = CryptoFor(set);
        var encrypt = post.GetProperty("encrypt").GetString()!;

        crypto.VerifySignature(post.GetProperty("msg_signature").GetString(), post.GetProperty("timestamp").GetString()!, post.GetProperty("nonce").GetString()!, encrypt);
        var message = crypto.Decrypt(encrypt, out var random);

        Assert.Equal(post.GetProperty("plaintext").GetString(), message);
        Assert.Equal(post.GetProperty("msg_len").GetInt32(), Encoding.UTF8.GetByteCount(message));
        if (post.TryGetProperty("random16", out var expectedRandom))
        {
            Assert.Equal(expectedRandom.GetString(), Encoding.ASCII.GetString(random));
        }

        // The vector's pad is what a 32-byte PKCS#7 gives for this content length (1..32, not 1..16).
        var content = 16 + 4 + post.GetProperty("msg_len").GetInt32() + Encoding.UTF8.GetByteCount(set.GetProperty("receiveId").GetString()!);
        Assert.Equal(post.GetProperty("pad").GetInt32(), 32 - (content % 32));
        Assert.Equal(content + post.GetProperty("pad").GetInt32(), Convert.FromBase64String(encrypt).Length);
    }

    [Theory]
    [MemberData(nameof(AppSets))]
    public void Decrypt_VerifyUrlVector_YieldsEchoPlaintext(string name)
    {
        var set = Vectors.GetProperty(name);
        var verify = set.GetProperty("verify_url");
        var crypto = CryptoFor(set);
        var echostr = verify.GetProperty("echostr").GetString()!;

        crypto.VerifySignature(verify.GetProperty("msg_signature").GetString(), verify.GetProperty("timestamp").GetString()!, verify.GetProperty("nonce").GetString()!, echostr);

        Assert.Equal(verify.GetProperty("reply_plaintext").GetString(), crypto.Decrypt(echostr));
    }

    [Fact]
    public void RawQuery_UrlEncodedEchostr_DecodesOnceKeepingPlus()
    {
        var verify = Vectors.GetProperty("official_doc_QDG6eK").GetProperty("verify_url");
        var query = CallbackEndpoint.RawQuery("?echostr=" + verify.GetProperty("echostr_urlencoded").GetString() + "&x=a+b");

        Assert.Equal(verify.GetProperty("echostr").GetString(), query["echostr"]);
        Assert.Equal("a+b", query["x"]);
    }

    [Fact]
    public void VerifySignature_NegativeNonce_ThrowsValidateSignature()
    {
        var set = Vectors.GetProperty("wechatpy_tests");
        var verify = set.GetProperty("verify_url");
        var crypto = CryptoFor(set);

        var ex = Assert.Throws<WeComCryptoException>(() => crypto.VerifySignature(
            verify.GetProperty("msg_signature").GetString(), verify.GetProperty("timestamp").GetString()!, "437374424", verify.GetProperty("echostr").GetString()!));

        Assert.Equal(WeComCryptoError.ValidateSignature, ex.Error);
        Assert.Equal(-40001, (int)ex.Error);
    }

    [Fact]
    public void EncryptReply_DeterministicVector_MatchesExpectedXml()
    {
        var set = Vectors.GetProperty("wechatpy_tests");
        var vector = set.GetProperty("encrypt_reply_deterministic");
        var crypto = CryptoFor(set);

        var xml = crypto.EncryptReply(
            vector.GetProperty("plaintext").GetString()!,
            vector.GetProperty("timestamp").GetString()!,
            vector.GetProperty("nonce").GetString()!,
            Encoding.ASCII.GetBytes(vector.GetProperty("random16").GetString()!));

        Assert.Equal(vector.GetProperty("expected_xml").GetString(), xml);
    }

    [Fact]
    public void Signature_NodeWebotVector_MatchesExpected()
    {
        var vector = Vectors.GetProperty("node_webot_wechat_crypto_signature");
        var crypto = new WeComCrypto(vector.GetProperty("token").GetString()!, "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "x");

        var signature = crypto.Signature(vector.GetProperty("timestamp").GetString()!, vector.GetProperty("nonce").GetString()!, vector.GetProperty("encrypt").GetString()!);

        Assert.Equal(vector.GetProperty("expected").GetString(), signature);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a")]
    [InlineData("你好，世界")]
    [InlineData("exactly-eleven-")]
    public void EncryptDecrypt_AnyLength_RoundTripsWith32BytePadding(string message)
    {
        var crypto = new WeComCrypto("t", "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt", "ww1436e0e65a779aee");
        for (var extra = 0; extra < 40; extra++)
        {
            var text = message + new string('x', extra);
            var encrypt = crypto.Encrypt(text);

            Assert.Equal(0, Convert.FromBase64String(encrypt).Length % 32);
            Assert.Equal(text, crypto.Decrypt(encrypt));
        }
    }

    [Fact]
    public void Decrypt_OtherReceiveId_ThrowsValidateCorpId()
    {
        var set = Vectors.GetProperty("official_python_sample_ww1436");
        var crypto = new WeComCrypto(set.GetProperty("token").GetString()!, set.GetProperty("encodingAESKey").GetString()!, "ww0000000000000000");

        var ex = Assert.Throws<WeComCryptoException>(() => crypto.Decrypt(set.GetProperty("post").GetProperty("encrypt").GetString()!));

        Assert.Equal(WeComCryptoError.ValidateCorpId, ex.Error);
    }

    [Fact]
    public void Decrypt_TruncatedBase64_ThrowsDecodeBase64()
    {
        var set = Vectors.GetProperty("official_python_sample_ww1436");
        var encrypt = set.GetProperty("post").GetProperty("encrypt").GetString()!;

        var ex = Assert.Throws<WeComCryptoException>(() => CryptoFor(set).Decrypt(encrypt[..^3]));

        Assert.Equal(WeComCryptoError.DecodeBase64, ex.Error);
    }

    [Fact]
    public void Decrypt_CiphertextCutToWholeBlocks_ThrowsDecryptOrBufferError()
    {
        var set = Vectors.GetProperty("official_python_sample_ww1436");
        var cipher = Convert.FromBase64String(set.GetProperty("post").GetProperty("encrypt").GetString()!);

        var ex = Assert.Throws<WeComCryptoException>(() => CryptoFor(set).Decrypt(Convert.ToBase64String(cipher[..64])));

        Assert.Contains(ex.Error, new[] { WeComCryptoError.DecryptAes, WeComCryptoError.IllegalBuffer });
    }

    [Fact]
    public void Decrypt_WrongKey_ThrowsWithoutReturningGarbage()
    {
        var set = Vectors.GetProperty("official_python_sample_ww1436");
        var crypto = new WeComCrypto("t", "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR", set.GetProperty("receiveId").GetString()!);

        Assert.Throws<WeComCryptoException>(() => crypto.Decrypt(set.GetProperty("post").GetProperty("encrypt").GetString()!));
    }

    [Fact]
    public void Decrypt_NotMultipleOf32_ThrowsDecryptAes()
    {
        var ex = Assert.Throws<WeComCryptoException>(() => new WeComCrypto("t", "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt", "x").Decrypt(Convert.ToBase64String(new byte[48])));

        Assert.Equal(WeComCryptoError.DecryptAes, ex.Error);
    }

    [Theory]
    [InlineData("")]
    [InlineData("short")]
    [InlineData("6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhU!")]
    public void Constructor_IllegalKey_ThrowsIllegalAesKey(string key)
    {
        var ex = Assert.Throws<WeComCryptoException>(() => new WeComCrypto("t", key, "x"));

        Assert.Equal(WeComCryptoError.IllegalAesKey, ex.Error);
    }

    [Fact]
    public void ReadFields_Dtd_ThrowsParseXml()
    {
        const string xxe = "<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><xml><Encrypt>&x;</Encrypt></xml>";

        var ex = Assert.Throws<WeComCryptoException>(() => CallbackXml.ReadFields(Encoding.UTF8.GetBytes(xxe), 65536));

        Assert.Equal(WeComCryptoError.ParseXml, ex.Error);
    }

    [Fact]
    public void ReadFields_NestedEventDetails_SkipsThemAndKeepsFlatFields()
    {
        const string xml = "<xml><MsgType><![CDATA[event]]></MsgType><ScanCodeInfo><ScanType>qrcode</ScanType><ScanResult>1</ScanResult></ScanCodeInfo><Event>scancode_push</Event><Empty/></xml>";

        var fields = CallbackXml.ReadFields(xml, 65536);

        Assert.Equal("event", fields["MsgType"]);
        Assert.Equal("scancode_push", fields["Event"]);
        Assert.Equal("", fields["Empty"]);
        Assert.False(fields.ContainsKey("ScanType"));
    }

    [Fact]
    public void CData_ContentWithTerminator_CannotCloseSection()
    {
        var fields = CallbackXml.ReadFields("<xml><Content>" + CallbackXml.CData("a]]><evil/>b") + "</Content></xml>", 65536);

        Assert.Equal("a]]><evil/>b", fields["Content"]);
    }

    [Fact]
    public void TruncateUtf8_LongChinese_CutsOnCharacterBoundaryWithinLimit()
    {
        var text = new string('好', 1000);

        var cut = CallbackXml.TruncateUtf8(text, 2048);

        Assert.True(Encoding.UTF8.GetByteCount(cut) <= 2048);
        Assert.EndsWith("…", cut, StringComparison.Ordinal);
        Assert.StartsWith(new string('好', 600), cut, StringComparison.Ordinal);
    }
}

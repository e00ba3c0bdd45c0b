using System.Diagnostics;
using System.Globalization;
using Appliance.WeCom.Crypto;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

// WeCom callback load: N distinct, freshly encrypted and signed "help" messages (distinct MsgIds, so no dedupe
// shortcut) posted to the whole appliance on loopback with C connections; each answer is a passive reply
// (decrypt, parse, dispatch, encrypt). Prints callbacks/s and latency percentiles. Bounded in count.
//   dotnet run -c Release --project tests/WeComLoad -- [requests=20000] [concurrency=32]
var requests = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 20000;
var concurrency = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 32;
const string Token = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo";
const string AesKey = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt";
const string CorpId = "ww1436e0e65a779aee";

var state = Directory.CreateTempSubdirectory("wecom-load-").FullName;
Environment.SetEnvironmentVariable("APPLIANCE_CONFIG_DIR", state);
var app = Appliance.Program.BuildApp([
    "--urls=http://127.0.0.1:0", $"--State:Directory={state}", "--Logging:LogLevel:Default=Warning",
    "--Camera:Source=synthetic", "--Camera:Width=320", "--Camera:Height=240", "--Camera:Fps=5", "--Camera:IdleFps=1",
    $"--WeCom:CorpId={CorpId}", $"--WeCom:Token={Token}", $"--WeCom:EncodingAesKey={AesKey}", "--WeCom:AgentId=1000002",
    "--WeCom:ApiBaseUrl=http://127.0.0.1:9/", "--WeCom:AllowedUsers:0=alice",
]);
await app.StartAsync();
var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

var crypto = new WeComCrypto(Token, AesKey, CorpId);
var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
var prepared = new (string Uri, byte[] Body)[requests + 1000];
for (var i = 0; i < prepared.Length; i++)
{
    var plain = $"<xml><ToUserName><![CDATA[{CorpId}]]></ToUserName><FromUserName><![CDATA[alice]]></FromUserName><CreateTime>{now}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[help]]></Content><MsgId>{9_000_000_000L + i}</MsgId><AgentID>1000002</AgentID></xml>";
    var encrypt = crypto.Encrypt(plain);
    var nonce = (100000 + i).ToString(CultureInfo.InvariantCulture);
    var ts = now.ToString(CultureInfo.InvariantCulture);
    prepared[i] = ($"{address}/wecom/callback?msg_signature={crypto.Signature(ts, nonce, encrypt)}&timestamp={ts}&nonce={nonce}",
        System.Text.Encoding.UTF8.GetBytes($"<xml><ToUserName><![CDATA[{CorpId}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>"));
}

using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency, UseCookies = false });
async Task<(int Failures, double[] Latencies)> RunAsync(int from, int count)
{
    var latencies = new double[count];
    var failures = 0;
    var next = -1;
    await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
    {
        int index;
        while ((index = Interlocked.Increment(ref next)) < count)
        {
            var (uri, body) = prepared[from + index];
            var started = Stopwatch.GetTimestamp();
            using var response = await http.PostAsync(uri, new ByteArrayContent(body));
            var reply = await response.Content.ReadAsByteArrayAsync();
            latencies[index] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            if (!response.IsSuccessStatusCode || reply.Length == 0)
            {
                Interlocked.Increment(ref failures);
            }
        }
    }));
    return (failures, latencies);
}

await RunAsync(0, 1000); // warm-up (JIT, connections)
var clock = Stopwatch.StartNew();
var (failed, measured) = await RunAsync(1000, requests);
var elapsed = clock.Elapsed.TotalSeconds;
Array.Sort(measured);
double P(double q) => measured[Math.Min(measured.Length - 1, (int)(q * measured.Length))];
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"wecom callbacks (text 'help', passive reply): {requests} requests, concurrency {concurrency}, {elapsed:0.00} s, {requests / elapsed:0} callbacks/s, p50 {P(0.50):0.00} ms, p99 {P(0.99):0.00} ms, max {measured[^1]:0.00} ms, failures {failed}"));
await app.StopAsync();
Directory.Delete(state, recursive: true);
return failed == 0 ? 0 : 1;

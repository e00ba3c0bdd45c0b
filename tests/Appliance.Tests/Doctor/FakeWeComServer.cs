using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

using Appliance.Tests.Infrastructure;

namespace Appliance.Tests.Doctor;

/// <summary>
/// WeCom's gettoken endpoint on loopback, speaking the documented protocol: corp "ww-good" with secret "s3cret"
/// gets a token; a wrong secret 40001, an unknown corp 40013, corp "ww-untrusted" 60020 (IP not trusted),
/// corp "ww-garbage" an HTML page, corp "ww-500" HTTP 500.
/// </summary>
internal sealed class FakeWeComServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeWeComServer(WebApplication app, Uri baseAddress)
    {
        _app = app;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    public int Requests => _requests;

    private int _requests;

    public static async Task<FakeWeComServer> StartAsync()
    {
        var app = LoopbackApp.Create();
        FakeWeComServer? server = null;
        app.MapGet("/cgi-bin/gettoken", (HttpContext context) =>
        {
            Interlocked.Increment(ref server!._requests);
            var corp = context.Request.Query["corpid"].ToString();
            var secret = context.Request.Query["corpsecret"].ToString();
            return corp switch
            {
                "ww-garbage" => Results.Content("<html>captive portal</html>", "text/html"),
                "ww-500" => Results.StatusCode(500),
                "ww-untrusted" => Json("""{"errcode":60020,"errmsg":"not allow to access from your ip"}"""),
                "ww-good" when secret == "s3cret" => Json("""{"errcode":0,"errmsg":"ok","access_token":"TOKEN","expires_in":7200}"""),
                "ww-good" => Json("""{"errcode":40001,"errmsg":"invalid credential"}"""),
                _ => Json("""{"errcode":40013,"errmsg":"invalid corpid"}"""),
            };
        });
        server = new FakeWeComServer(app, await LoopbackApp.StartAsync(app));
        return server;
    }

    private static IResult Json(string body) => Results.Content(body, "application/json");

    public async ValueTask DisposeAsync()
    {
        await LoopbackApp.StopAsync(_app);
    }
}

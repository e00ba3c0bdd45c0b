using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

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
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
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
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server = new FakeWeComServer(app, new Uri(address));
        return server;
    }

    private static IResult Json(string body) => Results.Content(body, "application/json");

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

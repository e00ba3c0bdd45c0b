using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Tests.Shared;

/// <summary>The fake servers' common part: a quiet Kestrel app on 127.0.0.1 with a port the kernel picks.</summary>
public static class LoopbackApp
{
    /// <summary>A new app to map the fake's endpoints on.</summary>
    public static WebApplication Create()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        return builder.Build();
    }

    /// <summary>Starts the app and returns its address (http://127.0.0.1:PORT).</summary>
    public static async Task<Uri> StartAsync(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        await app.StartAsync();
        return new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
    }

    public static async ValueTask StopAsync(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        await app.StopAsync();
        await app.DisposeAsync();
    }
}

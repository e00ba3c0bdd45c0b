using Appliance.Auth;
using Appliance.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Appliance.Tests.Auth;

/// <summary>
/// The appliance does not preload ASP.NET Core's data protection key ring at start (start-up time and resident code
/// on the Pi; nothing here protects data with it), yet data protection stays registered for anything that asks for it.
/// </summary>
public sealed class KeyRingPreloadTests : IDisposable
{
    private readonly string _state = Directory.CreateTempSubdirectory("appliance-state-").FullName;

    public void Dispose() => Directory.Delete(_state, recursive: true);

    [Fact]
    public void DropKeyRingPreload_AfterAddAuthentication_RemovesOnlyTheDataProtectionHostedService()
    {
        var services = new ServiceCollection();
        services.AddAuthentication();
        services.AddHostedService<OtherHostedService>();
        // The service is there to drop: a renamed one in a later ASP.NET Core would make this fail, not pass silently.
        Assert.Contains(services, d => d.ImplementationType?.FullName == WebAuthExtensions.KeyRingPreloadService);

        WebAuthExtensions.DropKeyRingPreload(services);

        Assert.DoesNotContain(services, d => d.ImplementationType?.FullName == WebAuthExtensions.KeyRingPreloadService);
        Assert.Single(services, d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(OtherHostedService));
        Assert.Contains(services, d => d.ServiceType == typeof(IDataProtectionProvider));
    }

    [Fact]
    public async Task BuildApp_Started_RunsNoKeyRingPreloadAndDataProtectionStaysRegistered()
    {
        await using var app = Program.BuildApp(["--urls=http://127.0.0.1:0", $"--State:Directory={_state}",
            "--Camera:Source=synthetic", "--Logging:LogLevel:Default=Warning"]);

        Assert.DoesNotContain(app.Services.GetServices<IHostedService>(), s => s.GetType().FullName == WebAuthExtensions.KeyRingPreloadService);
        await app.StartAsync();
        // Still registered (its keys would load on first use; protecting here would write a key under $HOME).
        Assert.NotNull(app.Services.GetRequiredService<IDataProtectionProvider>().CreateProtector("test"));
        await app.StopAsync();
    }

    private sealed class OtherHostedService : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

using System.Net.Sockets;
using System.Text;
using Appliance.Hosting.Systemd;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Relay.Hosting;

namespace Relay.Tests.Hosting;

public sealed class RelayNotifyServiceTests
{
    [Theory]
    [InlineData(null)]
    [InlineData(30)]
    public async Task Shutdown_WithOrWithoutWatchdog_SendsReadyThenStopping(int? watchdogSeconds)
    {
        var directory = Directory.CreateTempSubdirectory("relay-notify-").FullName;
        var path = Path.Combine(directory, "notify.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        using var notifier = new SystemdNotifier(path);
        var lifetime = new TestLifetime();
        var environment = new SystemdEnvironment(path, watchdogSeconds is { } s ? TimeSpan.FromSeconds(s) : null, UnderJournal: false);
        using var service = new RelayNotifyService(notifier, environment, lifetime);

        await service.StartAsync(CancellationToken.None);
        lifetime.Started.Cancel();
        Assert.Contains("READY=1", await ReceiveAsync(listener, "READY=1"), StringComparison.Ordinal);

        // The host's order on shutdown: ApplicationStopping first, then the services are stopped.
        await Task.Delay(200);
        lifetime.Stopping.Cancel();
        await service.StopAsync(CancellationToken.None);

        Assert.Contains("STOPPING=1", await ReceiveAsync(listener, "STOPPING=1"), StringComparison.Ordinal);
    }

    [Fact]
    public void AddSystemd_NotifySocket_RegistersTheNotifierAndTheRelaysNotifyService()
    {
        var builder = WebApplication.CreateSlimBuilder();
        var environment = new SystemdEnvironment("/run/relay-test-notify.sock", TimeSpan.FromSeconds(30), UnderJournal: false);
        builder.Services.AddSingleton(environment);

        builder.AddSystemd();

        Assert.Contains(builder.Services, d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(RelayNotifyService));
        Assert.Equal("/run/relay-test-notify.sock", Assert.IsType<SystemdNotifier>(
            Assert.Single(builder.Services, d => d.ServiceType == typeof(SystemdNotifier)).ImplementationInstance).SocketPath);
        Assert.Same(environment, Assert.Single(builder.Services, d => d.ServiceType == typeof(SystemdEnvironment)).ImplementationInstance);
    }

    [Fact]
    public void AddSystemd_NoNotifySocket_NeitherNotifierNorNotifyService()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddSingleton(new SystemdEnvironment(NotifySocket: null, WatchdogTimeout: null, UnderJournal: false));

        builder.AddSystemd();

        Assert.DoesNotContain(builder.Services, d => d.ImplementationType == typeof(RelayNotifyService));
        Assert.DoesNotContain(builder.Services, d => d.ServiceType == typeof(SystemdNotifier));
    }

    private static async Task<string> ReceiveAsync(Socket socket, string wanted)
    {
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            var received = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            var message = Encoding.UTF8.GetString(buffer, 0, received);
            if (message.Contains(wanted, StringComparison.Ordinal))
            {
                return message;
            }
        }
    }

    private sealed class TestLifetime : IHostApplicationLifetime
    {
        public CancellationTokenSource Started { get; } = new();

        public CancellationTokenSource Stopping { get; } = new();

        public CancellationToken ApplicationStarted => Started.Token;

        public CancellationToken ApplicationStopping => Stopping.Token;

        public CancellationToken ApplicationStopped => CancellationToken.None;

        public void StopApplication() => Stopping.Cancel();
    }
}

using Appliance.Hosting.Systemd;
using Appliance.Tests.Infrastructure;
using Camera;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Appliance.Tests.Systemd;

/// <summary>The sd_notify protocol against a real Unix datagram socket, with the whole appliance on Kestrel.</summary>
[Collection(TimingSensitive.Name)]
public sealed class SystemdNotifyTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Ready_CameraWithholdsFirstFrame_SentOnlyAfterFirstFrame()
    {
        using var socket = NotifySocketListener.OnPath();
        var camera = new GatedFrameSource();
        await using var app = await StartAsync(socket, camera, watchdog: null);

        // Kestrel listens (StartAsync returned), but there is no frame: no READY, and the status says why.
        var early = await socket.CollectAsync(TimeSpan.FromSeconds(1.5));
        Assert.DoesNotContain(early, m => NotifySocketListener.HasAssignment(m, "READY=1"));
        Assert.Contains(early, m => m.Contains("STATUS=Waiting for the camera's first frame", StringComparison.Ordinal));
        Assert.Equal(0, app.Services.GetRequiredService<FrameHub>().FramesPublished);

        camera.Flow();
        var ready = await socket.WaitForAsync("READY=1", Patience);
        Assert.NotNull(ready);
        Assert.True(app.Services.GetRequiredService<FrameHub>().FramesPublished > 0);
        Assert.Contains("STATUS=Serving http://127.0.0.1:", ready, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Watchdog_CaptureLoopHangs_StopsPingingUntilItRecovers()
    {
        using var socket = NotifySocketListener.OnPath();
        var camera = new GatedFrameSource();
        camera.Flow();
        await using var app = await StartAsync(socket, camera, watchdog: TimeSpan.FromMilliseconds(400), "--Systemd:CaptureStallLimit=00:00:01");
        Assert.NotNull(await socket.WaitForAsync("READY=1", Patience));

        // Healthy: a ping every 200 ms (half of WATCHDOG_USEC), ten in 2 s. At least 2.5 a second is asked for, over a
        // window long enough that one late timer on a busy machine does not decide the count.
        var healthy = await socket.CollectAsync(TimeSpan.FromSeconds(2));
        var pings = healthy.Count(m => NotifySocketListener.HasAssignment(m, "WATCHDOG=1"));
        Assert.True(pings is >= 5 and <= 13, $"{pings} pings in 2 s: {string.Join(" | ", healthy)}");
        Assert.DoesNotContain(healthy, m => m.Contains("Unhealthy", StringComparison.Ordinal));

        // The driver call wedges: once the heartbeat is older than the limit, no more pings.
        camera.Hang();
        var unhealthy = await socket.WaitForAsync("STATUS=", Patience);
        while (unhealthy is not null && !unhealthy.Contains("Unhealthy: capture loop stuck", StringComparison.Ordinal))
        {
            unhealthy = await socket.WaitForAsync("STATUS=", Patience);
        }

        Assert.NotNull(unhealthy);
        Assert.False(NotifySocketListener.HasAssignment(unhealthy, "WATCHDOG=1"));
        var stuck = await socket.CollectAsync(TimeSpan.FromSeconds(1.5));
        Assert.DoesNotContain(stuck, m => NotifySocketListener.HasAssignment(m, "WATCHDOG=1"));

        camera.Unhang();
        Assert.NotNull(await socket.WaitForAsync("WATCHDOG=1", Patience));
    }

    [Fact]
    public async Task Stopping_HostShutsDown_SendsStopping()
    {
        using var socket = NotifySocketListener.OnPath();
        var camera = new GatedFrameSource();
        camera.Flow();
        var app = await StartAsync(socket, camera, watchdog: null);
        Assert.NotNull(await socket.WaitForAsync("READY=1", Patience));

        await app.DisposeAsync();
        Assert.NotNull(await socket.WaitForAsync("STOPPING=1", Patience));
    }

    [Fact]
    public async Task Send_AbstractSocketName_Delivered()
    {
        using var socket = NotifySocketListener.Abstract();
        using var notifier = new SystemdNotifier(socket.NotifySocket);
        Assert.True(notifier.Send("STATUS=hello"));
        Assert.Equal("STATUS=hello", await socket.WaitForAsync("STATUS=", Patience));
    }

    [Fact]
    public void Send_NobodyListening_ReturnsFalse()
    {
        using var notifier = new SystemdNotifier(Path.Combine(Path.GetTempPath(), $"absent-{Guid.NewGuid():N}.sock"));
        Assert.False(notifier.Send("READY=1"));
    }

    [Theory]
    [InlineData("30000000", null, 30.0)]
    [InlineData("30000000", "4242", 30.0)]
    [InlineData("30000000", "4243", null)]
    [InlineData("", null, null)]
    [InlineData("garbage", null, null)]
    public void Parse_WatchdogVariables_HonoursWatchdogPid(string usec, string? pid, double? expectedSeconds)
    {
        var variables = new Dictionary<string, string?> { ["WATCHDOG_USEC"] = usec, ["WATCHDOG_PID"] = pid };
        var environment = SystemdEnvironment.Parse(name => variables.GetValueOrDefault(name), 4242);
        Assert.Equal(expectedSeconds, environment.WatchdogTimeout?.TotalSeconds);
    }

    [Fact]
    public void Parse_JournalStreamAndSocket_Recognised()
    {
        var variables = new Dictionary<string, string?> { ["NOTIFY_SOCKET"] = "@x", ["JOURNAL_STREAM"] = "8:1234" };
        var environment = SystemdEnvironment.Parse(name => variables.GetValueOrDefault(name), 1);
        Assert.Equal("@x", environment.NotifySocket);
        Assert.True(environment.UnderJournal);
        Assert.False(SystemdEnvironment.Parse(_ => null, 1).UnderJournal);
    }

    [Fact]
    public void Fatal_UnderJournal_EveryLineAtPriorityErr()
    {
        const string message = "The appliance cannot start:\n  - Camera:Fps must be between 1 and 120 (got 0).\nSettings come from …\n";
        var journal = SystemdEnvironment.Parse(name => name == "JOURNAL_STREAM" ? "8:1234" : null, 1);

        Assert.Equal("<3>The appliance cannot start:\n<3>  - Camera:Fps must be between 1 and 120 (got 0).\n<3>Settings come from …", journal.Fatal(message));
        Assert.Equal(message, SystemdEnvironment.Parse(_ => null, 1).Fatal(message));
    }

    private static async Task<RunningApp> StartAsync(NotifySocketListener socket, GatedFrameSource camera, TimeSpan? watchdog, params string[] settings)
    {
        var state = Directory.CreateTempSubdirectory("appliance-state-").FullName;
        string[] args =
        [
            "--urls=http://127.0.0.1:0", $"--State:Directory={state}", "--Logging:LogLevel:Default=Warning",
            .. ApplianceServer.DefaultSettings, "--Camera:Source=v4l2", "--Camera:IdleFps=30", .. settings,
        ];
        var app = Program.BuildApp(args, builder =>
        {
            builder.Services.AddSingleton(new SystemdEnvironment(socket.NotifySocket, watchdog, UnderJournal: false));
            builder.Services.AddSingleton(new FrameSourceFactory("v4l2", null, _ => camera));
        });
        await app.StartAsync();
        return new RunningApp(app, state);
    }

    private sealed class RunningApp(WebApplication app, string state) : IAsyncDisposable
    {
        public IServiceProvider Services => app.Services;

        public async ValueTask DisposeAsync()
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await app.StopAsync(timeout.Token);
            await app.DisposeAsync();
            Directory.Delete(state, recursive: true);
        }
    }
}

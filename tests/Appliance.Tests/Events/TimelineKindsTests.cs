using System.Text.Json.Nodes;
using Appliance.Events;
using Appliance.Hardware.Gpio;
using Appliance.Tests.Infrastructure;
using Appliance.Tests.WeCom;
using Camera;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Appliance.Tests.Events;

/// <summary>
/// The events that are not motion (switch, camera, wecom; tunnel is in TunnelClientTests), each from the place where
/// it happens, through <see cref="IEventRecorder"/> into the real index.
/// </summary>
public sealed class TimelineKindsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("timeline-kinds-").FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Switch_ByAWebUser_IsOnTheTimelineWithWhatAndWho()
    {
        await using var server = await ApplianceServer.StartAsync("--Gpio:Pins:porch:Line=5");
        using var client = server.CreateClient();

        (await client.PostAsync("/api/gpio/porch?action=on", null)).EnsureSuccessStatusCode();
        (await client.PostAsync("/api/gpio/porch?action=toggle", null)).EnsureSuccessStatusCode();

        var events = Events(await client.GetStringAsync("/api/events?kind=switch"));
        Assert.Equal(["porch:off", "porch:on"], events.Select(e => (string?)e!["source"]));
        var by = (string?)events[0]!["by"];
        Assert.Contains("127.0.0.1", by, StringComparison.Ordinal); // the web user and where from, as the GPIO log says
        Assert.Equal((string?)events[0]!["start"], (string?)events[0]!["end"]);
    }

    [Fact]
    public async Task Switch_ByWeComAdmin_IsASwitchEventAndARefusedMemberIsAWeComEvent()
    {
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(null, "--Gpio:Pins:porch:Line=5"));
        var client = WeComCallbackClient.For(server);
        using var http = server.CreateClient();

        await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("alice", "开 porch", WeComCallbackClient.NextMsgId())));
        await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("dad", "开 porch", WeComCallbackClient.NextMsgId())));
        await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("dad", "状态", WeComCallbackClient.NextMsgId())));
        await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("alice", "直播", WeComCallbackClient.NextMsgId())));

        var all = Events(await http.GetStringAsync("/api/events"));
        Assert.Equal(
            ["wecom live wecom:alice", "switch porch:on wecom:dad", "wecom on:refused wecom:alice"],
            all.Select(e => $"{e!["kind"]} {e["source"]} {e["by"]}"));
    }

    [Fact]
    public void Switch_ByMqtt_RecordsMqttAsWho()
    {
        // The MQTT bridge switches through GpioService.Switch with who "mqtt" (MqttBridge.OnCommand); the hook is there.
        using var store = new EventStore(Path.Combine(_dir, "events.db"));
        var recorder = new IndexEventRecorder(store, NullLogger<IndexEventRecorder>.Instance);
        var options = new GpioOptions();
        options.Pins["fan"] = new GpioPinOptions { Line = 7, Mode = GpioMode.Output, PulseMs = 200 };
        using var lines = GpioLines.Open(options, _ => new SimulatedGpioDriver(), out var errors);
        Assert.Empty(errors);
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 7, 21, 0, 0, TimeSpan.Zero));
        using var hub = new FrameHub(clock);
        using var gpio = new GpioService(lines, new Appliance.Capture.SnapshotService(hub, new CameraOptions(), clock), new NullSink(), clock, NullLogger<GpioService>.Instance, recorder);

        gpio.Switch("fan", GpioCommand.Pulse, "mqtt");

        var entry = Assert.Single(store.List(null, 10, "switch"));
        Assert.Equal(("fan:pulse", "mqtt", clock.GetUtcNow()), (entry.Source, entry.By, entry.Start));
    }

    [Fact]
    public async Task Camera_LostThenBack_IsOneCameraEventFromLossToReturn()
    {
        using var store = new EventStore(Path.Combine(_dir, "events.db"));
        var recorder = new IndexEventRecorder(store, NullLogger<IndexEventRecorder>.Instance);
        using var hub = new FrameHub();
        var source = new UnpluggableSource();
        using var capture = new CaptureService(
            new CameraOptions { Source = "test", Fps = 50, IdleFps = 50, Width = 32, Height = 24 }, hub,
            [new FrameSourceFactory("test", null, _ => source)], NullLogger<CaptureService>.Instance);
        var watcher = new CameraEventWatcher(capture, recorder, TimeProvider.System);
        await watcher.StartAsync(CancellationToken.None);
        capture.Start();
        try
        {
            await WaitUntil(() => hub.FramesPublished > 3);
            Assert.Empty(store.List(null, 10, "camera")); // coming up is not an event
            var unplugged = DateTimeOffset.UtcNow;
            source.Unplugged = true;
            await WaitUntil(() => capture.Status.State == CaptureState.Unavailable);
            await watcher.Written;
            var lost = Assert.Single(store.List(null, 10, "camera"));
            Assert.Null(lost.End);
            Assert.Contains("unplugged", lost.Source, StringComparison.Ordinal);
            Assert.InRange(lost.Start, unplugged.AddSeconds(-1), DateTimeOffset.UtcNow.AddSeconds(1));

            var plugged = DateTimeOffset.UtcNow;
            source.Unplugged = false;
            await WaitUntil(() => capture.Status.State is CaptureState.Live or CaptureState.Idle, seconds: 20);
            await watcher.Written;
            var back = Assert.Single(store.List(null, 10, "camera"));
            Assert.InRange(back.End!.Value, plugged, DateTimeOffset.UtcNow.AddSeconds(1));
        }
        finally
        {
            capture.Stop(TimeSpan.FromSeconds(5));
            await watcher.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public void Recorder_BrokenIndex_LogsAndNeverThrowsIntoTheCaller()
    {
        var store = new EventStore(Path.Combine(_dir, "events.db"));
        var recorder = new IndexEventRecorder(store, NullLogger<IndexEventRecorder>.Instance);
        store.Dispose(); // what a switch during shutdown meets

        recorder.Record("switch", DateTimeOffset.UtcNow, "porch:on", "mqtt");
        Assert.Null(recorder.Begin("camera", DateTimeOffset.UtcNow, "gone", null));
        recorder.End(1, DateTimeOffset.UtcNow);
    }

    internal static JsonArray Events(string json) => JsonNode.Parse(json)!["events"]!.AsArray();

    private static async Task WaitUntil(Func<bool> condition, int seconds = 10)
    {
        var until = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < until, "condition not reached in time");
            await Task.Delay(20);
        }
    }

    private sealed class NullSink : IMotionAlertSink
    {
        public Task SendAsync(GpioAlert alert, CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>A camera that stops delivering (and cannot be reopened) while <see cref="Unplugged"/>.</summary>
    private sealed class UnpluggableSource : FrameSource
    {
        private volatile bool _unplugged;

        public bool Unplugged
        {
            get => _unplugged;
            set => _unplugged = value;
        }

        public override string Name => "test";

        public override bool IsSelfPaced => false;

        public override void Open(CancellationToken cancellationToken)
        {
            if (Unplugged)
            {
                throw new FrameSourceException("test camera unplugged");
            }

            Width = 32;
            Height = 24;
        }

        public override Frame? ReadFrame(TimeSpan timeout, CancellationToken cancellationToken) =>
            Unplugged ? throw new FrameSourceException("test camera unplugged") : Frame.Create([0xFF, 0xD8, 0xFF, 0xD9], 32, 24, DateTimeOffset.UtcNow);
    }
}

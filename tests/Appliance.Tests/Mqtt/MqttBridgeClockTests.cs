using Appliance.Capture;
using Appliance.Mqtt;
using Appliance.Mqtt.Adapters;
using Camera;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Appliance.Tests.Mqtt;

/// <summary>The bridge's timers (reconnect backoff, snapshot interval) on a manual clock, against a real mosquitto.</summary>
public sealed class MqttBridgeClockTests
{
    private static readonly byte[] Jpeg = [0xFF, 0xD8, 0xFF, 0xD9];

    private sealed class NoHardware : IMqttHardware
    {
        public IReadOnlyList<MqttPin> Pins => [];

        public event Action<string, bool>? Changed { add { } remove { } }

        public bool? Read(string name) => null;

        public void Switch(string name, MqttSwitchCommand command, string who) => throw new KeyNotFoundException(name);
    }

    private sealed class NoReadings : IMqttReadings
    {
        public IReadOnlyList<MqttSensor> Sensors => [];

        public IReadOnlyDictionary<string, string> Read() => new Dictionary<string, string>();
    }

    private static (MqttBridge Bridge, FrameHub Hub) Create(MosquittoBroker broker, FakeTimeProvider time, string snapshotInterval)
    {
        var options = new MqttOptions
        {
            Host = "127.0.0.1", Port = broker.Port, ClientId = "clock", BaseTopic = "appliance/clock",
            SnapshotInterval = TimeSpan.Parse(snapshotInterval, System.Globalization.CultureInfo.InvariantCulture),
        };
        options.ApplyDefaults("clockhost", null);
        var hub = new FrameHub(time);
        var snapshots = new SnapshotService(hub, new CameraOptions(), time);
        return (new MqttBridge(options, new NoHardware(), new NoReadings(), snapshots, time, NullLogger<MqttBridge>.Instance), hub);
    }

    [Fact]
    public async Task SnapshotInterval_PublishesWhenTheClockReachesIt_NotBefore()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        await using var probe = await MqttProbe.ConnectAsync(broker, "appliance/clock/camera/image");
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 0, 0, 0, TimeSpan.Zero));
        var (bridge, hub) = Create(broker, time, "00:01:00");
        await bridge.StartAsync(CancellationToken.None);
        try
        {
            await WaitUntilAsync(() => bridge.IsConnected);
            time.Advance(TimeSpan.FromSeconds(59));
            await Task.Delay(500);
            Assert.Empty(probe.Messages);

            time.Advance(TimeSpan.FromSeconds(1));
            hub.Publish(Frame.Create(Jpeg, 2, 2, time.GetUtcNow()));

            var image = await probe.WaitForAsync(m => true, TimeSpan.FromSeconds(15), "snapshot at one minute");
            Assert.Equal(Jpeg, image.Payload);
        }
        finally
        {
            await bridge.StopAsync(CancellationToken.None);
            bridge.Dispose();
            hub.Dispose();
        }
    }

    [Fact]
    public async Task Reconnect_WaitsForTheBackoffOnTheClock_AndConnectsWhenTheBrokerIsBack()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        await broker.KillAsync();
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 0, 0, 0, TimeSpan.Zero));
        var (bridge, hub) = Create(broker, time, "00:00:00");
        await bridge.StartAsync(CancellationToken.None);
        try
        {
            await Task.Delay(500); // the first attempt fails at once (nothing listens) and waits on the clock
            await broker.RestartAsync();
            await Task.Delay(1000);
            Assert.False(bridge.IsConnected); // the backoff has not elapsed on the clock

            time.Advance(TimeSpan.FromSeconds(2)); // at most Mqtt:ReconnectMaxDelay

            await WaitUntilAsync(() => bridge.IsConnected);
            Assert.Equal(1, bridge.Connects);
        }
        finally
        {
            await bridge.StopAsync(CancellationToken.None);
            bridge.Dispose();
            hub.Dispose();
        }
    }

    [Fact]
    public void NextDelay_GrowsFromAQuarterSecondAndNeverExceedsTheMaximum()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 0, 0, 0, TimeSpan.Zero));
        var options = new MqttOptions { Host = "127.0.0.1", ReconnectMaxDelay = TimeSpan.FromSeconds(2) };
        options.ApplyDefaults("h", null);
        using var hub = new FrameHub(time);
        using var bridge = new MqttBridge(options, new NoHardware(), new NoReadings(), new SnapshotService(hub, new CameraOptions(), time), time, NullLogger<MqttBridge>.Instance);

        for (var failures = 0; failures < 40; failures++)
        {
            var delay = bridge.NextDelay(failures);
            var ceiling = TimeSpan.FromMilliseconds(Math.Min(2000, 250 * Math.Pow(2, Math.Min(failures, 16))));
            Assert.InRange(delay, ceiling / 2, ceiling);
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 15 s");
            await Task.Delay(20);
        }
    }
}

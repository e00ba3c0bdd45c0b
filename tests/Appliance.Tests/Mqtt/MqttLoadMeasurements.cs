using System.Diagnostics;
using System.Globalization;
using Appliance.Hardware.Gpio;
using Appliance.Mqtt;
using Appliance.Mqtt.Adapters;
using Appliance.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Appliance.Tests.Mqtt;

/// <summary>
/// The issue's figures, on demand (Category=Load, not in the default run): state change → publish and MQTT command →
/// output switched over 1,000 round trips each (targets p99 ≤ 20 ms), and the time to reconnect and publish again after
/// a broker restart (target ≤ 5 s). Everything on loopback; each loop is bounded in count and time.
/// <c>dotnet test tests/Appliance.Tests -c Release --filter "Category=Load&amp;FullyQualifiedName~Mqtt" --logger "console;verbosity=detailed"</c>
/// </summary>
public sealed class MqttLoadMeasurements(ITestOutputHelper output)
{
    private const string Base = "appliance/test";
    private const int RoundTrips = 1000;
    private const int Warmup = 50;
    private const int Restarts = 5;
    private static readonly TimeSpan PhaseLimit = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan Each = TimeSpan.FromSeconds(2);

    [Fact]
    [Trait("Category", "Load")]
    public async Task RoundTripsAndReconnect_Measured()
    {
        // MQTT_QUICKACK=0 measures without the appliance's immediate ACKs (QuickAckStreamProvider), to show what they save.
        var quickAck = Environment.GetEnvironmentVariable("MQTT_QUICKACK") != "0";
        MqttConnection.QuickAck = quickAck;
        output.WriteLine($"broker set_tcp_nodelay {(Environment.GetEnvironmentVariable("MOSQUITTO_NODELAY") == "1" ? "true" : "false (mosquitto's default)")}, appliance TCP_QUICKACK {(quickAck ? "on" : "off")}");
        await using var broker = await MosquittoBroker.StartAsync();
        await using var probe = await MqttProbe.ConnectAsync(broker, $"{Base}/switch/porch-light/state");
        await using var server = await ApplianceServer.StartAsync(MqttTests.Settings(broker, MqttTests.Pins));
        await probe.WaitForAsync($"{Base}/switch/porch-light/state", "OFF", TimeSpan.FromSeconds(15));
        var gpio = server.GetRequiredService<IGpioService>();
        var hardware = server.GetRequiredService<IMqttHardware>();
        var bridge = server.GetRequiredService<MqttBridge>();

        // 1. State change → publish: the GPIO service switches, the probe (Home Assistant's side) receives the state.
        var published = new List<double>();
        TaskCompletionSource<long>? seen = null;
        string expected = "";
        probe.OnMessage = m =>
        {
            if (m.Text == expected)
            {
                seen?.TrySetResult(m.Timestamp);
            }
        };
        var on = false;
        var phase = Stopwatch.StartNew();
        for (var i = 0; i < RoundTrips + Warmup && phase.Elapsed < PhaseLimit; i++)
        {
            on = !on;
            expected = on ? "ON" : "OFF";
            seen = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
            var start = Stopwatch.GetTimestamp();
            gpio.Switch("porch-light", on ? GpioCommand.On : GpioCommand.Off, "load");
            var end = await seen.Task.WaitAsync(Each);
            if (i >= Warmup)
            {
                published.Add(Stopwatch.GetElapsedTime(start, end).TotalMilliseconds);
            }
        }

        // 2. Command → output switched: the probe publishes ON/OFF, the output's change is timed where the GPIO layer reports it.
        var switched = new List<double>();
        TaskCompletionSource<long>? moved = null;
        var want = false;
        hardware.Changed += (name, value) =>
        {
            if (name == "porch-light" && value == want)
            {
                moved?.TrySetResult(Stopwatch.GetTimestamp());
            }
        };
        phase.Restart();
        for (var i = 0; i < RoundTrips + Warmup && phase.Elapsed < PhaseLimit; i++)
        {
            on = !on;
            want = on;
            moved = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
            var start = Stopwatch.GetTimestamp();
            await probe.PublishAsync($"{Base}/switch/porch-light/set", on ? "ON" : "OFF");
            var end = await moved.Task.WaitAsync(Each);
            if (i >= Warmup)
            {
                switched.Add(Stopwatch.GetElapsedTime(start, end).TotalMilliseconds);
            }
        }

        probe.OnMessage = null;

        // 3. Broker killed and restarted: until the appliance is connected again, and until a new subscriber sees it online.
        var reconnected = new List<double>();
        var republished = new List<double>();
        for (var i = 0; i < Restarts; i++)
        {
            var connects = bridge.Connects;
            await broker.KillAsync();
            var gone = Stopwatch.StartNew();
            while (bridge.IsConnected && gone.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(5);
            }

            await Task.Delay(TimeSpan.FromSeconds(1 + i)); // the backoff has grown by then
            await broker.RestartAsync();
            var back = Stopwatch.StartNew();
            while (bridge.Connects == connects && back.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(1);
            }

            reconnected.Add(back.Elapsed.TotalMilliseconds);
            await using var watcher = await MqttProbe.ConnectAsync(broker, $"{Base}/#");
            await watcher.WaitForAsync($"{Base}/switch/porch-light/state", on ? "ON" : "OFF", TimeSpan.FromSeconds(30));
            republished.Add(back.Elapsed.TotalMilliseconds);
        }

        Report("state change → publish", published);
        Report("command → output switched", switched);
        Report("broker restart → connected", reconnected);
        Report("broker restart → states retained again", republished);
        MqttConnection.QuickAck = true;
        Assert.Equal(RoundTrips, published.Count);
        Assert.Equal(RoundTrips, switched.Count);
    }

    private void Report(string what, List<double> milliseconds)
    {
        milliseconds.Sort();
        double Percentile(double p) => milliseconds[Math.Max(0, (int)Math.Ceiling(p * milliseconds.Count) - 1)];
        var line = string.Create(CultureInfo.InvariantCulture,
            $"{what}: n={milliseconds.Count} p50={Percentile(0.50):0.00} ms p99={Percentile(0.99):0.00} ms max={milliseconds[^1]:0.00} ms");
        output.WriteLine(line);
        Console.WriteLine(line);
    }
}

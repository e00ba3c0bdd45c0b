using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Appliance.Hardware.Gpio;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Protocol;

namespace Hardware.Tests;

/// <summary>
/// Home Assistant's switch command through a real mosquitto moving a gpio-sim line on the guest's kernel. mosquitto is
/// the host's binary (the guest runs in the host's root, read-only) listening on the guest's own loopback; the
/// pins are set up through configuration only, and the line is read back where the simulated hardware sees it.
/// </summary>
[Trait("Category", "Hardware")]
public sealed class MqttGpioSimTests
{
    private const string Base = "appliance/hw";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task MqttSwitchCommand_ThroughMosquitto_MovesTheGpioSimLine()
    {
        using var sim = new GpioSimChip();
        await using var broker = await GuestMosquitto.StartAsync();
        var received = new ConcurrentQueue<(string Topic, string Text)>();
        using var homeAssistant = new MqttClientFactory().CreateMqttClient();
        homeAssistant.ApplicationMessageReceivedAsync += args =>
        {
            received.Enqueue((args.ApplicationMessage.Topic, Encoding.UTF8.GetString(args.ApplicationMessage.Payload)));
            return Task.CompletedTask;
        };
        await homeAssistant.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", broker.Port).WithClientId("home-assistant").Build());
        await homeAssistant.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter($"{Base}/#", MqttQualityOfServiceLevel.AtLeastOnce).Build());

        await using var app = await GpioCharacterDeviceTests.StartAppAsync(
            $"--Gpio:Chip={sim.Label}",
            "--Gpio:Pins:porch-light:Line=1", "--Gpio:Pins:porch-light:ActiveLow=true",
            "--Gpio:Pins:door:Line=2", "--Gpio:Pins:door:PulseMs=300",
            "--Mqtt:Host=127.0.0.1", $"--Mqtt:Port={broker.Port}", "--Mqtt:ClientId=hw-appliance", $"--Mqtt:BaseTopic={Base}",
            "--Mqtt:SnapshotInterval=00:00:00");
        await WaitForAsync(received, $"{Base}/switch/porch-light/state", "OFF");
        Assert.Equal(1, sim.Value(1)); // off on an active-low relay board = high

        await Publish(homeAssistant, $"{Base}/switch/porch-light/set", "ON");
        GuestKernel.WaitFor(() => sim.Value(1) == 0, Wait, "the MQTT command to pull the active-low line low");
        await WaitForAsync(received, $"{Base}/switch/porch-light/state", "ON");
        var pin = app.Services.GetRequiredService<IGpioService>().GetPins().Single(p => p.Name == "porch-light");
        Assert.Equal("mqtt", pin.ChangedBy);

        await Publish(homeAssistant, $"{Base}/switch/porch-light/set", "OFF");
        GuestKernel.WaitFor(() => sim.Value(1) == 1, Wait, "the MQTT command to let the line go high again");

        // The pulse button: the line goes high, then low by itself after PulseMs.
        await Publish(homeAssistant, $"{Base}/button/door/pulse", "PRESS");
        GuestKernel.WaitFor(() => sim.Value(2) == 1, Wait, "the pulse to start");
        GuestKernel.WaitFor(() => sim.Value(2) == 0, Wait, "the pulse to end");

        await homeAssistant.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build());
    }

    private static async Task Publish(IMqttClient client, string topic, string payload) =>
        await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());

    private static async Task WaitForAsync(ConcurrentQueue<(string Topic, string Text)> received, string topic, string text)
    {
        var stopwatch = Stopwatch.StartNew();
        while (!received.Contains((topic, text)))
        {
            Assert.True(stopwatch.Elapsed < Wait, $"no '{text}' on {topic} within {Wait}; got {string.Join(", ", received.Select(m => $"{m.Topic}={m.Text}"))}");
            await Task.Delay(20);
        }
    }

    /// <summary>mosquitto on the guest's loopback, anonymous, without persistence, configured in a temporary directory.</summary>
    private sealed class GuestMosquitto : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly string _directory;
        private readonly StringBuilder _log = new();

        private GuestMosquitto(Process process, string directory, int port)
        {
            _process = process;
            _directory = directory;
            Port = port;
        }

        public int Port { get; }

        public static async Task<GuestMosquitto> StartAsync()
        {
            var directory = Directory.CreateTempSubdirectory("hw-mosquitto-").FullName;
            int port;
            using (var listener = new TcpListener(IPAddress.Loopback, 0))
            {
                listener.Start();
                port = ((IPEndPoint)listener.LocalEndpoint).Port;
            }

            var config = Path.Combine(directory, "mosquitto.conf");
            await File.WriteAllTextAsync(config, string.Create(CultureInfo.InvariantCulture,
                $"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\nuser {Environment.UserName}\n"));
            var start = new ProcessStartInfo("mosquitto") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add(config);
            var process = Process.Start(start) ?? throw new InvalidOperationException("could not start mosquitto (tests/lanes/mqtt.apt installs it)");
            var broker = new GuestMosquitto(process, directory, port);
            process.ErrorDataReceived += (_, e) => broker.Append(e.Data);
            process.OutputDataReceived += (_, e) => broker.Append(e.Data);
            process.BeginErrorReadLine();
            process.BeginOutputReadLine();
            var stopwatch = Stopwatch.StartNew();
            while (true)
            {
                try
                {
                    using var probe = new TcpClient();
                    await probe.ConnectAsync(IPAddress.Loopback, port);
                    return broker;
                }
                catch (SocketException) when (stopwatch.Elapsed < Wait && !process.HasExited)
                {
                    await Task.Delay(50);
                }
                catch (SocketException ex)
                {
                    await broker.DisposeAsync();
                    throw new InvalidOperationException($"mosquitto did not listen on 127.0.0.1:{port}: {ex.Message}\n{broker.Log}", ex);
                }
            }
        }

        private string Log
        {
            get
            {
                lock (_log)
                {
                    return _log.ToString();
                }
            }
        }

        private void Append(string? line)
        {
            if (line is not null)
            {
                lock (_log)
                {
                    _log.AppendLine(line);
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                await _process.WaitForExitAsync();
            }

            _process.Dispose();
            Directory.Delete(_directory, recursive: true);
        }
    }
}

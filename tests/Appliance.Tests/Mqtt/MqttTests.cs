using System.Text.Json.Nodes;
using Appliance.Doctor;
using Appliance.Hardware.Gpio;
using Appliance.Hosting;
using Appliance.Mqtt;
using Appliance.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Appliance.Tests.Mqtt;

/// <summary>The appliance against a real mosquitto on loopback, with MQTTnet as Home Assistant's side.</summary>
public sealed class MqttTests
{
    private const string Base = "appliance/test";
    private const string Node = "test-appliance";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    internal static readonly string[] Pins =
    [
        "--Gpio:Pins:porch-light:Line=17",
        "--Gpio:Pins:door:Line=18", "--Gpio:Pins:door:PulseMs=200",
        "--Gpio:Pins:pir:Line=22", "--Gpio:Pins:pir:Mode=Input", "--Gpio:Pins:pir:OnPress=Alert",
        "--Gpio:Pins:doorbell:Line=27", "--Gpio:Pins:doorbell:Mode=Input", "--Gpio:Pins:doorbell:OnPress=Snapshot",
        "--Gpio:Pins:contact:Line=5", "--Gpio:Pins:contact:Mode=Input", "--Gpio:Pins:contact:Edge=Both",
    ];

    internal static string[] Settings(MosquittoBroker broker, params string[] extra) =>
    [
        "--Mqtt:Host=127.0.0.1", $"--Mqtt:Port={broker.Port}", $"--Mqtt:ClientId={Node}", $"--Mqtt:BaseTopic={Base}",
        "--Mqtt:SnapshotInterval=00:00:00", .. extra,
    ];

    private static string Config(string component, string objectId) => $"homeassistant/{component}/{Node}/{objectId}/config";

    private static readonly string[] ExpectedConfigs =
    [
        Config("camera", "camera"), Config("button", "snapshot"),
        Config("switch", "porch-light"), Config("button", "porch-light_pulse"), Config("switch", "door"), Config("button", "door_pulse"),
        Config("binary_sensor", "pir"), Config("binary_sensor", "doorbell"), Config("event", "doorbell"), Config("binary_sensor", "contact"),
        Config("sensor", "fps"), Config("sensor", "viewers"), Config("sensor", "tunnel"), Config("sensor", "uptime"),
    ];

    private static SimulatedGpioDriver Chip(ApplianceServer server) => (SimulatedGpioDriver)server.GetRequiredService<GpioService>().Lines.Driver;

    private static async Task<Dictionary<string, JsonObject>> WaitForDiscoveryAsync(MqttProbe probe, string[]? expected = null)
    {
        foreach (var topic in expected ?? ExpectedConfigs)
        {
            await probe.WaitForAsync(m => m.Topic == topic && m.Payload.Length > 0, Wait, topic);
        }

        return probe.Messages.Where(m => m.Topic.StartsWith("homeassistant/", StringComparison.Ordinal) && m.Topic.EndsWith("/config", StringComparison.Ordinal) && m.Payload.Length > 0)
            .GroupBy(m => m.Topic).ToDictionary(g => g.Key, g => JsonNode.Parse(g.Last().Text)!.AsObject());
    }

    [Fact]
    public async Task Discovery_EveryEntity_MatchesHomeAssistantsSchemaWithStableUniqueIds()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        await using var probe = await MqttProbe.ConnectAsync(broker);
        await using var server = await ApplianceServer.StartAsync(Settings(broker, [.. Pins, "--Mqtt:ConfigurationUrl=http://pi.local:8080/"]));

        var configs = await WaitForDiscoveryAsync(probe);

        Assert.Equal(ExpectedConfigs.Order(StringComparer.Ordinal), configs.Keys.Order(StringComparer.Ordinal));
        foreach (var (topic, config) in configs)
        {
            var component = topic.Split('/')[1];
            Assert.True(HomeAssistantSchema.Check(component, config) is [], $"{topic}: {string.Join("; ", HomeAssistantSchema.Check(component, config))}");
            Assert.Equal($"{Base}/availability", (string?)config["availability_topic"]);
            Assert.Equal(Node, (string?)config["device"]!["identifiers"]![0]);
            Assert.Equal("http://pi.local:8080/", (string?)config["device"]!["configuration_url"]);
        }

        var uniqueIds = configs.Values.Select(c => (string)c["unique_id"]!).ToList();
        Assert.Equal(uniqueIds.Count, uniqueIds.Distinct().Count());
        Assert.Equal("test-appliance_switch_porch-light", (string?)configs[Config("switch", "porch-light")]["unique_id"]);
        Assert.Equal("motion", (string?)configs[Config("binary_sensor", "pir")]["device_class"]);
        Assert.Null(configs[Config("binary_sensor", "contact")]["device_class"]);
        Assert.Equal("doorbell", (string?)configs[Config("event", "doorbell")]["device_class"]);
        Assert.Equal("diagnostic", (string?)configs[Config("sensor", "uptime")]["entity_category"]);
        Assert.Equal("duration", (string?)configs[Config("sensor", "uptime")]["device_class"]);

        // Retained, so a Home Assistant that subscribes later gets them, with the states and "online".
        await using var late = await MqttProbe.ConnectAsync(broker);
        await late.WaitForAsync(m => m.Topic == Config("switch", "porch-light") && m.Retain, Wait, "retained switch config");
        await late.WaitForAsync(m => m.Topic == $"{Base}/availability" && m.Text == "online" && m.Retain, Wait, "retained online");
        await late.WaitForAsync(m => m.Topic == $"{Base}/switch/porch-light/state" && m.Text == "OFF" && m.Retain, Wait, "retained OFF");
        await late.WaitForAsync(m => m.Topic == $"{Base}/sensor/uptime/state" && m.Retain, Wait, "retained uptime");
    }

    [Fact]
    public async Task Discovery_WithBme280Enabled_HasEnvironmentSensorsWithClassUnitAndStateClass()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        await using var probe = await MqttProbe.ConnectAsync(broker, "homeassistant/#");
        await using var server = await ApplianceServer.StartAsync(Settings(broker, "--Sensors:Bme280:Enabled=true", "--Sensors:Bme280:Bus=250"));

        // The legacy Sensors:Bme280 section is a Bme280 named "Bme280": one entity per quantity, NAME_quantity.
        foreach (var (key, deviceClass, unit) in new[] { ("bme280_temperature", "temperature", "°C"), ("bme280_humidity", "humidity", "%"), ("bme280_pressure", "atmospheric_pressure", "hPa") })
        {
            var message = await probe.WaitForAsync(m => m.Topic == Config("sensor", key), Wait, key);
            var config = JsonNode.Parse(message.Text)!.AsObject();
            Assert.Empty(HomeAssistantSchema.Check("sensor", config));
            Assert.Equal(deviceClass, (string?)config["device_class"]);
            Assert.Equal(unit, (string?)config["unit_of_measurement"]);
            Assert.Equal("measurement", (string?)config["state_class"]);
            Assert.Null(config["entity_category"]);
        }
    }

    [Fact]
    public async Task SwitchCommand_FromMqtt_MovesTheOutputLoggedAsMqttAndPublishesRetainedState()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        await using var probe = await MqttProbe.ConnectAsync(broker);
        var logs = new WeCom.CapturingLoggerProvider();
        await using var server = await ApplianceServer.StartAsync(logs.Install, Settings(broker, Pins));
        await probe.WaitForAsync($"{Base}/switch/porch-light/state", "OFF", Wait);

        await probe.PublishAsync($"{Base}/switch/porch-light/set", "ON");

        await probe.WaitForAsync($"{Base}/switch/porch-light/state", "ON", Wait);
        Assert.True(Chip(server).PhysicalLevel(17));
        var pin = server.GetRequiredService<IGpioService>().GetPins().Single(p => p.Name == "porch-light");
        Assert.Equal("mqtt", pin.ChangedBy);
        // Logged by the bridge and by the GPIO service (the same log line as a web or WeCom switch) as by mqtt.
        Assert.Contains(logs.Lines, l => l.Contains($"MQTT command {Base}/switch/porch-light/set ON by mqtt", StringComparison.Ordinal));
        Assert.Contains(logs.Lines, l => l.Contains("GPIO porch-light On: on=True by mqtt", StringComparison.Ordinal));

        probe.Clear();
        await probe.PublishAsync($"{Base}/button/door/pulse", "PRESS");
        await probe.WaitForAsync($"{Base}/switch/door/state", "ON", Wait);
        await probe.WaitForAsync($"{Base}/switch/door/state", "OFF", Wait); // the pulse ends by itself
        Assert.False(Chip(server).PhysicalLevel(18));
    }

    [Fact]
    public async Task WebSwitch_PublishesTheNewState()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        await using var probe = await MqttProbe.ConnectAsync(broker);
        await using var server = await ApplianceServer.StartAsync(Settings(broker, Pins));
        await probe.WaitForAsync($"{Base}/switch/porch-light/state", "OFF", Wait);
        using var client = server.CreateClient();

        (await client.PostAsync("/api/gpio/porch-light?action=on", null)).EnsureSuccessStatusCode();

        await probe.WaitForAsync($"{Base}/switch/porch-light/state", "ON", Wait);
    }

    [Fact]
    public async Task DoorbellPress_PublishesBinarySensorEventAndSnapshot()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        await using var probe = await MqttProbe.ConnectAsync(broker);
        await using var server = await ApplianceServer.StartAsync(Settings(broker, Pins));
        await probe.WaitForAsync($"{Base}/binary_sensor/doorbell/state", "OFF", Wait);
        probe.Clear();

        Chip(server).SetInput(27, physical: true);

        await probe.WaitForAsync($"{Base}/binary_sensor/doorbell/state", "ON", Wait);
        var press = await probe.WaitForAsync(m => m.Topic == $"{Base}/event/doorbell", Wait, "doorbell event");
        Assert.Equal("press", (string?)JsonNode.Parse(press.Text)!["event_type"]);
        var image = await probe.WaitForAsync(m => m.Topic == $"{Base}/camera/image", Wait, "snapshot");
        Assert.Equal([0xFF, 0xD8], image.Payload[..2]);

        Chip(server).SetInput(22, physical: true); // the PIR
        await probe.WaitForAsync($"{Base}/binary_sensor/pir/state", "ON", Wait);
        await probe.WaitForAsync(m => m.Topic == $"{Base}/camera/image" && !ReferenceEquals(m, image), Wait, "the PIR's snapshot");
    }

    [Fact]
    public async Task CameraMotion_MovingBoxScene_PublishesOnWithASnapshotThenOff()
    {
        var scenes = Directory.CreateTempSubdirectory("mqtt-motion-").FullName;
        try
        {
            // 320x240 at 5 fps looping every 8 s: a box still until 2 s, moving until 5 s (as the motion service's test).
            var scene = await Events.MotionServiceTests.MovingBoxSceneAsync(scenes);
            await using var broker = await MosquittoBroker.StartAsync();
            await using var probe = await MqttProbe.ConnectAsync(broker);
            await using var server = await ApplianceServer.StartAsync(Settings(broker,
                "--Camera:Source=file", $"--Camera:File={scene}", "--Camera:Fps=10", "--Motion:Enabled=true", "--Motion:QuietSeconds=1"));

            var config = JsonNode.Parse((await probe.WaitForAsync(m => m.Topic == Config("binary_sensor", "camera_motion"), Wait, "camera motion config")).Text)!.AsObject();
            Assert.Empty(HomeAssistantSchema.Check("binary_sensor", config));
            Assert.Equal("motion", (string?)config["device_class"]);
            Assert.Equal($"{Node}_binary_sensor_camera_motion", (string?)config["unique_id"]);
            Assert.Equal($"{Base}/camera/motion", (string?)config["state_topic"]);
            await probe.WaitForAsync($"{Base}/camera/motion", "OFF", Wait); // nothing moved yet (retained)

            // The box moves: ON, a snapshot after it (SnapshotInterval is 0, so only the event takes one), then OFF
            // once Motion:QuietSeconds pass without a moving frame.
            var on = await probe.WaitForAsync($"{Base}/camera/motion", "ON", TimeSpan.FromSeconds(40));
            var image = await probe.WaitForAsync(m => m.Topic == $"{Base}/camera/image" && m.Timestamp >= on.Timestamp, Wait, "the motion snapshot");
            Assert.Equal([0xFF, 0xD8], image.Payload[..2]);
            await probe.WaitForAsync(m => m.Topic == $"{Base}/camera/motion" && m.Text == "OFF" && m.Timestamp > on.Timestamp, Wait, "OFF after the motion");

            // The same event reached the events index: the bridge is one listener among others, not instead of them.
            using var client = server.CreateClient();
            Assert.Contains("\"source\":\"camera\"", await client.GetStringAsync("/api/events?kind=motion"), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(scenes, recursive: true);
        }
    }

    [Fact]
    public async Task CameraMotion_Off_HasNoMotionEntity()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        await using var probe = await MqttProbe.ConnectAsync(broker);
        await using var server = await ApplianceServer.StartAsync(Settings(broker));

        await WaitForDiscoveryAsync(probe, ExpectedConfigs[..2]);
        await probe.WaitForAsync($"{Base}/availability", "online", Wait);
        Assert.DoesNotContain(probe.Messages, m => m.Topic.Contains("camera_motion", StringComparison.Ordinal) || m.Topic == $"{Base}/camera/motion");
    }

    [Fact]
    public async Task BuildApp_PinNamedLikeTheCameraMotionSensor_IsAConfigurationErrorNamingThePin()
    {
        var ex = await Assert.ThrowsAsync<ConfigurationException>(() => ApplianceServer.StartAsync(
            "--Mqtt:Host=127.0.0.1", "--Motion:Enabled=true", "--Gpio:Pins:Camera_Motion:Line=4", "--Gpio:Pins:Camera_Motion:Mode=Input"));
        Assert.Contains("Gpio:Pins:Camera_Motion", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SnapshotButtonAndInterval_PublishImages()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        await using var probe = await MqttProbe.ConnectAsync(broker);
        await using var server = await ApplianceServer.StartAsync(Settings(broker, "--Mqtt:SnapshotInterval=00:00:01"));
        var first = await probe.WaitForAsync(m => m.Topic == $"{Base}/camera/image", Wait, "interval snapshot");
        Assert.Equal([0xFF, 0xD8], first.Payload[..2]);

        await using var second = await ApplianceServer.StartAsync(Settings(broker, "--Mqtt:ClientId=other", "--Mqtt:BaseTopic=appliance/other"));
        await probe.WaitForAsync("appliance/other/availability", "online", Wait);
        await probe.PublishAsync("appliance/other/button/snapshot/press", "PRESS");
        var pressed = await probe.WaitForAsync(m => m.Topic == "appliance/other/camera/image", Wait, "snapshot on request");
        Assert.Equal([0xFF, 0xD8], pressed.Payload[..2]);
    }

    [Fact]
    public async Task HomeAssistantOnline_PublishesDiscoveryAndStatesAgain()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        await using var probe = await MqttProbe.ConnectAsync(broker);
        await using var server = await ApplianceServer.StartAsync(Settings(broker, Pins));
        await WaitForDiscoveryAsync(probe);
        probe.Clear();

        await probe.PublishAsync("homeassistant/status", "online");

        await WaitForDiscoveryAsync(probe);
        await probe.WaitForAsync($"{Base}/switch/porch-light/state", "OFF", Wait);
    }

    [Fact]
    public async Task BrokerKilledAndRestarted_ApplianceReconnectsAndPublishesEverythingAgain()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        await using var server = await ApplianceServer.StartAsync(Settings(broker, Pins));
        var bridge = server.GetRequiredService<MqttBridge>();
        await using (var before = await MqttProbe.ConnectAsync(broker))
        {
            await before.WaitForAsync($"{Base}/availability", "online", Wait);
        }

        await broker.KillAsync();
        await WaitUntilAsync(() => !bridge.IsConnected, "the bridge noticing the broker is gone");
        // Changed while the broker is away: kept (newest only) and published after the reconnect.
        var gpio = server.GetRequiredService<IGpioService>();
        gpio.Switch("porch-light", GpioCommand.On, "test");
        gpio.Switch("porch-light", GpioCommand.Off, "test");
        gpio.Switch("porch-light", GpioCommand.On, "test");
        Assert.InRange(bridge.Queued, 1, 256);
        await broker.RestartAsync(); // no persistence: every retained message is gone

        await using var after = await MqttProbe.ConnectAsync(broker);
        await WaitForDiscoveryAsync(after);
        await after.WaitForAsync($"{Base}/availability", "online", Wait);
        await after.WaitForAsync($"{Base}/switch/porch-light/state", "ON", Wait);
        await after.WaitForAsync(m => m.Topic == $"{Base}/sensor/uptime/state", Wait, "uptime");
        Assert.True(bridge.Connects >= 2);

        // And commands work on the new connection.
        await after.PublishAsync($"{Base}/switch/porch-light/set", "OFF");
        await after.WaitForAsync($"{Base}/switch/porch-light/state", "OFF", Wait);
        Assert.False(Chip(server).PhysicalLevel(17));
    }

    [Fact]
    public async Task LastWill_BrokerSaysOfflineWhenTheApplianceVanishes_AndStopSaysOffline()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        await using var probe = await MqttProbe.ConnectAsync(broker, $"{Base}/availability");
        var server = await ApplianceServer.StartAsync(Settings(broker));
        await probe.WaitForAsync($"{Base}/availability", "online", Wait);

        await server.DisposeAsync();

        await probe.WaitForAsync($"{Base}/availability", "offline", Wait);
    }

    [Fact]
    public async Task MalformedCommands_AreIgnoredAndTheBridgeCarriesOn()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        await using var probe = await MqttProbe.ConnectAsync(broker);
        // A retained command (kept by the broker from before the appliance connected) would switch again at every
        // reconnect: it is ignored. (A live message arrives without the retain flag, as MQTT 3.1.1 forwards it.)
        await probe.PublishAsync($"{Base}/switch/porch-light/set", "ON", retain: true);
        var logs = new WeCom.CapturingLoggerProvider();
        await using var server = await ApplianceServer.StartAsync(logs.Install, Settings(broker, Pins));
        await probe.WaitForAsync($"{Base}/switch/porch-light/state", "OFF", Wait);

        await probe.PublishAsync($"{Base}/switch/porch-light/set", "BANANA");
        await probe.PublishAsync($"{Base}/switch/porch-light/set", "on"); // HA sends ON exactly
        await probe.PublishAsync($"{Base}/switch/porch-light/set", new byte[4096]);
        await probe.PublishAsync($"{Base}/switch/porch-light/set", [0xFF, 0xFE, 0x00]);
        await probe.PublishAsync($"{Base}/switch/no-such-pin/set", "ON");
        await probe.PublishAsync($"{Base}/switch/pir/set", "ON"); // an input
        await probe.PublishAsync($"{Base}/button/porch-light/explode", "PRESS");
        await probe.PublishAsync($"{Base}/button/snapshot/press", "NOW");
        await probe.PublishAsync("homeassistant/status", "garbage");

        // A good command after them all is still obeyed, and none of the bad ones moved anything before it.
        await probe.PublishAsync($"{Base}/switch/door/set", "ON");
        await probe.WaitForAsync($"{Base}/switch/door/state", "ON", Wait);
        Assert.False(Chip(server).PhysicalLevel(17));
        Assert.DoesNotContain(probe.Messages, m => m.Topic == $"{Base}/switch/porch-light/state" && m.Text == "ON");
        Assert.DoesNotContain(probe.Messages, m => m.Topic == $"{Base}/camera/image");
        Assert.True(server.GetRequiredService<MqttBridge>().IsConnected);

        // Each one was logged as a warning naming its topic (handled in order, so all before the good command).
        int Ignored(string topic) => logs.Lines.Count(l => l.StartsWith("Warning ", StringComparison.Ordinal) && l.Contains($"MQTT: ignored message on {topic}:", StringComparison.Ordinal));
        Assert.Equal(5, Ignored($"{Base}/switch/porch-light/set")); // retained, BANANA, on, 4096 bytes, not UTF-8
        Assert.Equal(1, Ignored($"{Base}/switch/no-such-pin/set"));
        Assert.Equal(1, Ignored($"{Base}/switch/pir/set"));
        Assert.Equal(1, Ignored($"{Base}/button/porch-light/explode"));
        Assert.Equal(1, Ignored($"{Base}/button/snapshot/press"));
        Assert.Equal(1, Ignored("homeassistant/status"));
    }

    [Fact]
    public async Task HostName_Localhost_ConnectsThroughTheQuickAckSocket()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        await using var probe = await MqttProbe.ConnectAsync(broker, $"{Base}/availability");
        await using var server = await ApplianceServer.StartAsync([.. Settings(broker), "--Mqtt:Host=localhost"]);

        // A name, not an address (the broker listens on 127.0.0.1 only; localhost may resolve to ::1 first).
        await probe.WaitForAsync($"{Base}/availability", "online", Wait);
    }

    [Fact]
    public async Task RemovedPin_ItsRetainedConfigIsEmptiedSoHomeAssistantDropsTheEntity()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        await using (var first = await ApplianceServer.StartAsync(Settings(broker, [.. Pins, "--Gpio:Pins:old-relay:Line=9", "--Motion:Enabled=true"])))
        {
            await using var probe = await MqttProbe.ConnectAsync(broker);
            await probe.WaitForAsync(m => m.Topic == Config("switch", "old-relay") && m.Payload.Length > 0, Wait, "old-relay config");
            await probe.WaitForAsync(m => m.Topic == Config("binary_sensor", "camera_motion") && m.Payload.Length > 0, Wait, "camera motion config");
        }

        await using var watcher = await MqttProbe.ConnectAsync(broker, "homeassistant/#");
        await using var second = await ApplianceServer.StartAsync(Settings(broker, Pins));

        await watcher.WaitForAsync(m => m.Topic == Config("switch", "old-relay") && m.Payload.Length == 0, Wait, "old-relay config emptied");
        await watcher.WaitForAsync(m => m.Topic == Config("button", "old-relay_pulse") && m.Payload.Length == 0, Wait, "old-relay pulse emptied");
        await watcher.WaitForAsync(m => m.Topic == Config("binary_sensor", "camera_motion") && m.Payload.Length == 0, Wait, "camera motion emptied (motion detection turned off)");
        await using var late = await MqttProbe.ConnectAsync(broker, "homeassistant/#");
        await late.WaitForAsync(m => m.Topic == Config("switch", "porch-light") && m.Retain, Wait, "porch-light still there");
        Assert.DoesNotContain(late.Messages, m => m.Topic.Contains("old-relay", StringComparison.Ordinal) || m.Topic.Contains("camera_motion", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PasswordFile_RightPasswordFromSecretsJson_ConnectsAndWrongOneDoesNot()
    {
        var users = new Dictionary<string, string> { ["appliance"] = "s3cret pass", ["homeassistant"] = "ha-pass" };
        await using var broker = await MosquittoBroker.StartAsync(users);
        await using var probe = await MqttProbe.ConnectAsync(broker, $"{Base}/#", "homeassistant", "ha-pass");

        // The real program, its password read from secrets.json in its settings directory.
        var etc = Directory.CreateTempSubdirectory("appliance-etc-").FullName;
        await File.WriteAllTextAsync(Path.Combine(etc, "secrets.json"), """{ "Mqtt": { "Password": "s3cret pass" } }""");
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in (string[])[Path.Combine(AppContext.BaseDirectory, "Appliance.dll"), "--urls=http://127.0.0.1:0", .. ApplianceServer.DefaultSettings,
            $"--State:Directory={Directory.CreateTempSubdirectory().FullName}", "--Mqtt:User=appliance", .. Settings(broker)])
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment[ApplianceConfiguration.ConfigDirectoryVariable] = etc;
        using (var process = System.Diagnostics.Process.Start(start)!)
        {
            _ = process.StandardError.ReadToEndAsync();
            _ = process.StandardOutput.ReadToEndAsync();
            try
            {
                await probe.WaitForAsync($"{Base}/availability", "online", TimeSpan.FromSeconds(45));
            }
            finally
            {
                process.Kill();
                await process.WaitForExitAsync();
            }
        }

        await using var wrong = await ApplianceServer.StartAsync(Settings(broker, "--Mqtt:User=appliance", "--Mqtt:Password=wrong", "--Mqtt:ClientId=wrong"));
        var bridge = wrong.GetRequiredService<MqttBridge>();
        await Task.Delay(1500);
        Assert.False(bridge.IsConnected);
        Assert.Equal(0, bridge.Connects);
    }

    [Fact]
    public async Task Acl_FromTheDocs_OnlyHomeAssistantCanCommand()
    {
        var docs = Path.Combine(RepositoryRoot(), "docs", "mqtt.md");
        var text = await File.ReadAllTextAsync(docs);
        var start = text.IndexOf("```acl\n", StringComparison.Ordinal) + "```acl\n".Length;
        var acl = text[start..text.IndexOf("```", start, StringComparison.Ordinal)]
            .Replace("appliance/garden-pi", Base, StringComparison.Ordinal).Replace("appliance-garden-pi", Node, StringComparison.Ordinal);
        var users = new Dictionary<string, string> { ["appliance"] = "a-pw", ["homeassistant"] = "ha-pw", ["guest"] = "g-pw" };
        await using var broker = await MosquittoBroker.StartAsync(users, acl: acl);
        await using var homeAssistant = await MqttProbe.ConnectAsync(broker, "#", "homeassistant", "ha-pw");
        await using var server = await ApplianceServer.StartAsync(Settings(broker, [.. Pins, "--Mqtt:User=appliance", "--Mqtt:Password=a-pw", "--Motion:Enabled=true"]));
        await WaitForDiscoveryAsync(homeAssistant, [.. ExpectedConfigs, Config("binary_sensor", "camera_motion")]); // the appliance may publish everything it needs
        await homeAssistant.WaitForAsync($"{Base}/switch/porch-light/state", "OFF", Wait);
        await homeAssistant.WaitForAsync(m => m.Topic == $"{Base}/camera/motion", Wait, "the camera's motion state");
        await using var guest = await MqttProbe.ConnectAsync(broker, "#", "guest", "g-pw");

        await guest.PublishAsync($"{Base}/switch/porch-light/set", "ON");
        await guest.PublishAsync($"{Base}/button/door/pulse", "PRESS");
        await homeAssistant.PublishAsync($"{Base}/switch/door/set", "ON");

        await homeAssistant.WaitForAsync($"{Base}/switch/door/state", "ON", Wait);
        Assert.False(Chip(server).PhysicalLevel(17));
        Assert.DoesNotContain(homeAssistant.Messages, m => m.Topic == $"{Base}/switch/porch-light/state" && m.Text == "ON");
        Assert.DoesNotContain(homeAssistant.Messages, m => m.Topic == $"{Base}/switch/porch-light/set"); // never reached the broker's subscribers
        Assert.Empty(guest.Messages); // and the guest reads nothing
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Appliance.slnx")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("repository root not found");
    }

    [Fact]
    public async Task Tls_BrokerCertificateFromTestCa_ConnectsWithCaFileAndDoctorReportsIt()
    {
        await using var broker = await MosquittoBroker.StartAsync(tls: true);
        await using var server = await ApplianceServer.StartAsync(Settings(broker, "--Mqtt:Tls=true", $"--Mqtt:CaFile={broker.CaFile}"));

        await WaitUntilAsync(() => server.GetRequiredService<MqttBridge>().IsConnected, "a TLS connection");
        var doctor = server.Services.GetServices<IDoctorCheck>().OfType<MqttDoctorCheck>().Single();
        var result = await doctor.RunAsync(CancellationToken.None);
        Assert.Equal(DoctorOutcome.Pass, result.Outcome);
        Assert.Contains("(TLS)", result.Detail, StringComparison.Ordinal);

        // Without the CA the broker's certificate is not trusted.
        await using var untrusting = await ApplianceServer.StartAsync(Settings(broker, "--Mqtt:Tls=true", "--Mqtt:ClientId=untrusting"));
        var failed = await untrusting.Services.GetServices<IDoctorCheck>().OfType<MqttDoctorCheck>().Single().RunAsync(CancellationToken.None);
        Assert.Equal(DoctorOutcome.Fail, failed.Outcome);
        Assert.Contains("TLS", failed.Detail, StringComparison.Ordinal);
        Assert.False(untrusting.GetRequiredService<MqttBridge>().IsConnected);
    }

    [Fact]
    public async Task Doctor_ReportsConnectedRefusedAndUnreachable()
    {
        await using var broker = await MosquittoBroker.StartAsync(new Dictionary<string, string> { ["appliance"] = "pw" });
        static MqttDoctorCheck Check(params string[] settings)
        {
            var options = new MqttOptions();
            new ConfigurationBuilder().AddCommandLine(settings).Build().GetSection("Mqtt").Bind(options);
            options.ApplyDefaults("testhost", null);
            return new MqttDoctorCheck(options);
        }

        var ok = await Check(Settings(broker, "--Mqtt:User=appliance", "--Mqtt:Password=pw")).RunAsync(CancellationToken.None);
        var refused = await Check(Settings(broker, "--Mqtt:User=appliance", "--Mqtt:Password=nope")).RunAsync(CancellationToken.None);
        await broker.KillAsync();
        var unreachable = await Check(Settings(broker)).RunAsync(CancellationToken.None);
        var off = await Check().RunAsync(CancellationToken.None);

        Assert.Equal(DoctorOutcome.Pass, ok.Outcome);
        Assert.Contains("as appliance", ok.Detail, StringComparison.Ordinal);
        Assert.Equal(DoctorOutcome.Fail, refused.Outcome);
        Assert.Contains("refused", refused.Detail, StringComparison.Ordinal);
        Assert.Contains("Mqtt:Password", refused.Hint, StringComparison.Ordinal);
        Assert.Equal(DoctorOutcome.Fail, unreachable.Outcome);
        Assert.Contains("cannot reach", unreachable.Detail, StringComparison.Ordinal);
        Assert.Equal(DoctorOutcome.Skip, off.Outcome);
    }

    [Theory]
    [InlineData("--Mqtt:Port=70000", "Mqtt:Port")]
    [InlineData("--Mqtt:Port=many", "Mqtt:Port")]
    [InlineData("--Mqtt:Host=mqtt://broker", "Mqtt:Host")]
    [InlineData("--Mqtt:BaseTopic=appliance/+/x", "Mqtt:BaseTopic")]
    [InlineData("--Mqtt:DiscoveryPrefix=home assistant", "Mqtt:DiscoveryPrefix")]
    [InlineData("--Mqtt:SnapshotInterval=00:00:00.2", "Mqtt:SnapshotInterval")]
    [InlineData("--Mqtt:SnapshotInterval=often", "Mqtt:SnapshotInterval")]
    [InlineData("--Mqtt:CaFile=/nonexistent/ca.crt", "Mqtt:CaFile")]
    [InlineData("--Mqtt:Password=pw", "Mqtt:Password")]
    [InlineData("--Mqtt:QueueCapacity=0", "Mqtt:QueueCapacity")]
    [InlineData("--Mqtt:ConfigurationUrl=pi.local", "Mqtt:ConfigurationUrl")]
    public async Task BuildApp_BadMqttSetting_ThrowsNamingTheKey(string setting, string key)
    {
        var ex = await Assert.ThrowsAsync<ConfigurationException>(() => ApplianceServer.StartAsync("--Mqtt:Host=127.0.0.1", setting));
        Assert.Contains(key, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Process_BadMqttSetting_ExitsWith78AndNamesKey()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Appliance.dll");
        var result = await ExternalProcess.RunAsync("dotnet", [dll, "--Mqtt:Host=127.0.0.1", "--Mqtt:Port=70000", "--urls=http://127.0.0.1:0"], TimeSpan.FromSeconds(60),
            new Dictionary<string, string> { [ApplianceConfiguration.ConfigDirectoryVariable] = Directory.CreateTempSubdirectory().FullName });

        Assert.Equal(ExitCodes.ConfigurationError, result.ExitCode);
        Assert.Contains("Mqtt:Port must be between 1 and 65535", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoHost_MqttIsOff()
    {
        await using var server = await ApplianceServer.StartAsync();
        Assert.Null(server.Services.GetService<MqttBridge>());
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"no {what} within {Wait}");
            await Task.Delay(20);
        }
    }
}

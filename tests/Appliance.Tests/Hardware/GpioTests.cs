using System.Net;
using System.Text.Json.Nodes;
using Appliance.Capture;
using Appliance.Hardware.Gpio;
using Appliance.Hosting;
using Appliance.Tests.Infrastructure;
using Appliance.Tests.WeCom;
using System.Device.Gpio;
using Camera;
using Camera.Jpeg;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Appliance.Tests.Hardware;

public sealed class GpioOptionsTests
{
    [Fact]
    public void Validate_TwoNamesOnOneLine_NamesBothPins()
    {
        var options = new GpioOptions
        {
            Pins = { ["porch-light"] = new GpioPinOptions { Line = 17 }, ["siren"] = new GpioPinOptions { Line = 17 } },
        };
        var error = Assert.Single(options.Validate());
        Assert.Equal("Gpio:Pins:siren: line 17 is already used by Gpio:Pins:porch-light (two names on one line).", error);
    }

    [Fact]
    public void Validate_BadValues_NameTheirKeys()
    {
        var options = new GpioOptions
        {
            Chip = " ",
            Pins =
            {
                ["no line"] = new GpioPinOptions(),
                ["relay"] = new GpioPinOptions { Line = 5, OnPress = GpioPressAction.Alert, PulseMs = 0 },
                ["pir"] = new GpioPinOptions { Line = 6, Mode = GpioMode.Input, DebounceMs = 5000, Edge = GpioEdge.Falling, OnPress = GpioPressAction.Alert },
            },
        };
        var errors = options.Validate();
        Assert.Contains(errors, e => e.StartsWith("Gpio:Chip must be", StringComparison.Ordinal));
        Assert.Contains("Gpio:Pins:no line: pin names may use letters, digits, '-' and '_' (1-32 characters).", errors);
        Assert.Contains("Gpio:Pins:no line:Line must be a line offset between 0 and 1023 (got -1).", errors);
        Assert.Contains("Gpio:Pins:relay:OnPress applies to inputs only (the pin is an Output).", errors);
        Assert.Contains("Gpio:Pins:relay:PulseMs must be between 1 and 60000 (got 0).", errors);
        Assert.Contains("Gpio:Pins:pir:DebounceMs must be between 0 and 1000 (got 5000).", errors);
        Assert.Contains("Gpio:Pins:pir:OnPress needs Edge Rising or Both (got Falling).", errors);
    }

    [Fact]
    public void Validate_BadAliases_NameTheirKeys()
    {
        var options = new GpioOptions
        {
            Pins =
            {
                ["porch"] = new GpioPinOptions { Line = 5, Aliases = ["灯", "front door", "light!"] },
                ["hall"] = new GpioPinOptions { Line = 6, Aliases = ["灯", "PORCH"] },
                ["pir"] = new GpioPinOptions { Line = 7, Mode = GpioMode.Input, Aliases = ["动"] },
            },
        };
        var errors = options.Validate();
        Assert.Contains("Gpio:Pins:porch:Aliases: 'front door' must be one word of 1-16 characters, without spaces or punctuation.", errors);
        Assert.Contains("Gpio:Pins:porch:Aliases: 'light!' must be one word of 1-16 characters, without spaces or punctuation.", errors);
        Assert.Contains("Gpio:Pins:porch:Aliases: '灯' also names Gpio:Pins:hall.", errors);
        Assert.Contains("Gpio:Pins:hall:Aliases: 'PORCH' also names Gpio:Pins:porch.", errors);
        Assert.Contains("Gpio:Pins:pir:Aliases apply to outputs only (the pin is an Input).", errors);
        Assert.Empty(new GpioOptions { Pins = { ["porch"] = new GpioPinOptions { Line = 5, Aliases = ["灯", "light"] } } }.Validate());
    }

    [Theory]
    [InlineData("Edge", "7", "Gpio:Pins:bell:Edge must be Rising, Falling, Both or None (got 7).")]
    [InlineData("Bias", "9", "Gpio:Pins:bell:Bias must be AsIs, PullUp, PullDown or Disabled (got 9).")]
    [InlineData("OnPress", "5", "Gpio:Pins:bell:OnPress must be None, Snapshot or Alert (got 5).")]
    public void BuildApp_UndefinedNumberForAnEnumSetting_IsAConfigurationErrorNamingTheKey(string key, string value, string expected)
    {
        var error = Assert.Throws<ConfigurationException>(() => Program.BuildApp(
            ["--urls=http://127.0.0.1:0", "--Camera:Source=synthetic", "--Gpio:Pins:bell:Line=3", "--Gpio:Pins:bell:Mode=Input", $"--Gpio:Pins:bell:{key}={value}"]));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_PinNamesDifferingOnlyInCase_NamesBothPins()
    {
        var options = new GpioOptions
        {
            Pins = { ["Light"] = new GpioPinOptions { Line = 1 }, ["light"] = new GpioPinOptions { Line = 2 } },
        };
        var error = Assert.Single(options.Validate());
        Assert.Equal("Gpio:Pins:light: the name differs only in case from Gpio:Pins:Light (pin names are matched ignoring case).", error);
    }

    [Fact]
    public void Validate_AliasEqualToAnotherPinsNameIgnoringCase_NamesBothPins()
    {
        var options = new GpioOptions
        {
            Pins = { ["porch"] = new GpioPinOptions { Line = 1 }, ["hall"] = new GpioPinOptions { Line = 2, Aliases = ["Porch"] } },
        };
        var error = Assert.Single(options.Validate());
        Assert.Equal("Gpio:Pins:hall:Aliases: 'Porch' also names Gpio:Pins:porch.", error);
    }

    [Fact]
    public void BuildApp_UnknownLineAndBadMode_IsAConfigurationErrorNamingThePin()
    {
        var unknown = Assert.Throws<ConfigurationException>(() => Program.BuildApp(
            ["--urls=http://127.0.0.1:0", "--Camera:Source=synthetic", "--Gpio:Pins:gate:Line=70", "--Gpio:Pins:bell:Line=3"]));
        Assert.Contains("Gpio:Pins:gate: line 70 does not exist on the simulated chip", unknown.Message, StringComparison.Ordinal);

        var badMode = Assert.Throws<ConfigurationException>(() => Program.BuildApp(
            ["--urls=http://127.0.0.1:0", "--Camera:Source=synthetic", "--Gpio:Pins:bell:Line=3", "--Gpio:Pins:bell:Mode=Sideways"]));
        Assert.Contains("Gpio:Pins:bell:Mode", badMode.Message, StringComparison.Ordinal);
    }
}

public sealed class SimulatedGpioDriverTests
{
    [Fact]
    public void Output_ActiveLow_InvertsThePhysicalLevel()
    {
        using var driver = new SimulatedGpioDriver(8);
        using var controller = new GpioController(driver);
        driver.ConfigureLine(2, new GpioLineSettings("test", ActiveLow: true));
        controller.OpenPin(2, PinMode.Output, PinValue.Low);
        Assert.True(driver.PhysicalLevel(2));
        controller.Write(2, PinValue.High);
        Assert.False(driver.PhysicalLevel(2));
    }

    [Fact]
    public void Input_ActiveLowButton_ReportsPressAsRisingEdge()
    {
        using var driver = new SimulatedGpioDriver(8);
        using var controller = new GpioController(driver);
        var edges = new List<GpioEdgeEvent>();
        driver.ConfigureLine(3, new GpioLineSettings("test", ActiveLow: true, Bias: GpioBias.PullUp));
        controller.OpenPin(3, PinMode.Input);
        driver.SetEdgeHandler(3, GpioEdge.Both, edges.Add);
        Assert.Equal(PinValue.Low, controller.Read(3));
        driver.SetInput(3, physical: false);
        driver.SetInput(3, physical: true);
        Assert.Equal([true, false], edges.Select(e => e.Rising));
        Assert.Equal([1u, 2u], edges.Select(e => e.LineSeqno));
    }

    [Fact]
    public async Task ControllerCallbacksAndWaitForEvent_SeeEdgesInLogicalTerms()
    {
        using var driver = new SimulatedGpioDriver(8);
        using var controller = new GpioController(driver);
        driver.ConfigureLine(4, new GpioLineSettings("test", ActiveLow: true, Bias: GpioBias.PullUp));
        controller.OpenPin(4, PinMode.Input);
        var seen = new List<PinEventTypes>();
        void OnChange(object sender, PinValueChangedEventArgs e) => seen.Add(e.ChangeType);
        controller.RegisterCallbackForPinValueChangedEvent(4, PinEventTypes.Rising | PinEventTypes.Falling, OnChange);
        driver.SetInput(4, physical: false); // pressed
        driver.SetInput(4, physical: true);
        Assert.Equal([PinEventTypes.Rising, PinEventTypes.Falling], seen);
        controller.UnregisterCallbackForPinValueChangedEvent(4, OnChange);

        // The waiter registers on its own thread: press until it has seen one (bounded).
        var wait = Task.Run(() => controller.WaitForEvent(4, PinEventTypes.Rising, TimeSpan.FromSeconds(10)));
        for (var i = 0; i < 500 && !wait.IsCompleted; i++)
        {
            driver.SetInput(4, physical: false);
            driver.SetInput(4, physical: true);
            Thread.Sleep(10);
        }

        var result = await wait.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(result.TimedOut);
        Assert.Equal(PinEventTypes.Rising, result.EventTypes);
        Assert.Equal([PinEventTypes.Rising, PinEventTypes.Falling], seen);

        var none = controller.WaitForEvent(4, PinEventTypes.Rising, TimeSpan.FromMilliseconds(50));
        Assert.True(none.TimedOut);
    }

    [Fact]
    public void Open_SameLineFromASecondController_IsBusy()
    {
        using var driver = new SimulatedGpioDriver(8);
        // Controllers that are not disposed: disposing one disposes the driver they share.
        var first = new GpioController(driver);
        driver.ConfigureLine(1, new GpioLineSettings("appliance:light"));
        first.OpenPin(1, PinMode.Output);
        var second = new GpioController(driver);
        var error = Assert.Throws<GpioException>(() => second.OpenPin(1, PinMode.Output));
        Assert.Equal(16, error.Errno);
        Assert.Contains("in use by 'appliance:light'", error.Message, StringComparison.Ordinal);
    }
}

public sealed class GpioServiceTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 8, 0, 0, TimeSpan.Zero);

    private sealed class RecordingSink : IMotionAlertSink
    {
        public List<(GpioAlert Alert, int Bytes)> Alerts { get; } = [];

        public Task SendAsync(GpioAlert alert, CancellationToken cancellationToken)
        {
            Alerts.Add((alert, alert.Snapshot?.Length ?? 0));
            return Task.CompletedTask;
        }
    }

    private static (GpioService Service, SimulatedGpioDriver Chip, RecordingSink Sink, FakeTimeProvider Clock, FrameHub Hub) Create(GpioOptions options)
    {
        var clock = new FakeTimeProvider(Start);
        var lines = GpioLines.Open(options, _ => new SimulatedGpioDriver(32), out var errors);
        Assert.Empty(errors);
        var hub = new FrameHub(clock);
        var sink = new RecordingSink();
        var snapshots = new SnapshotService(hub, new CameraOptions { Fps = 1 }, clock);
        var service = new GpioService(lines, snapshots, sink, clock, NullLogger<GpioService>.Instance);
        return (service, (SimulatedGpioDriver)lines.Driver, sink, clock, hub);
    }

    private static void PublishFrame(FrameHub hub, DateTimeOffset at)
    {
        using var encoder = new JpegEncoder(80);
        hub.Publish(encoder.EncodeRgb(new byte[16 * 16 * 3], 16, 16, at));
    }

    [Fact]
    public async Task Press_WithCooldown_SendsSnapshotOnceUntilTheCooldownEnds()
    {
        var options = new GpioOptions
        {
            Pins = { ["pir"] = new GpioPinOptions { Line = 22, Mode = GpioMode.Input, Edge = GpioEdge.Rising, OnPress = GpioPressAction.Alert, CooldownSeconds = 60 } },
        };
        var (service, _, sink, clock, hub) = Create(options);
        var press = new GpioEdgeEvent(22, true, 0, 1, 1);

        PublishFrame(hub, clock.GetUtcNow());
        await service.HandleEdgeAsync("pir", press, CancellationToken.None);
        clock.Advance(TimeSpan.FromSeconds(30));
        await service.HandleEdgeAsync("pir", press, CancellationToken.None);
        clock.Advance(TimeSpan.FromSeconds(31));
        PublishFrame(hub, clock.GetUtcNow());
        await service.HandleEdgeAsync("pir", press, CancellationToken.None);

        Assert.Equal(2, sink.Alerts.Count);
        Assert.All(sink.Alerts, a => Assert.True(a.Bytes > 0));
        Assert.Equal(GpioPressAction.Alert, sink.Alerts[0].Alert.Action);
        Assert.Equal(["sent with snapshot", "cooldown (30 s left)", "sent with snapshot"], service.RecentEvents.Select(e => e.Outcome));
    }

    [Fact]
    public async Task Release_OfAButton_IsRecordedWithoutAction()
    {
        var options = new GpioOptions
        {
            Pins = { ["doorbell"] = new GpioPinOptions { Line = 27, Mode = GpioMode.Input, Edge = GpioEdge.Both, OnPress = GpioPressAction.Snapshot } },
        };
        var (service, _, sink, _, _) = Create(options);
        await service.HandleEdgeAsync("doorbell", new GpioEdgeEvent(27, false, 0, 1, 1), CancellationToken.None);
        Assert.Empty(sink.Alerts);
        var record = Assert.Single(service.RecentEvents);
        Assert.Equal(("released", false), (record.Outcome, record.Pressed));
    }

    [Fact]
    public void Switch_PulseToggleOnOff_DriveTheLineAndEndThePulseOnTime()
    {
        var options = new GpioOptions
        {
            Pins =
            {
                ["door"] = new GpioPinOptions { Line = 5, PulseMs = 800 },
                ["light"] = new GpioPinOptions { Line = 6, ActiveLow = true },
                ["button"] = new GpioPinOptions { Line = 7, Mode = GpioMode.Input },
            },
        };
        var (service, chip, _, clock, _) = Create(options);

        var pulsed = service.Switch("door", GpioCommand.Pulse, "alice");
        Assert.True(pulsed.On);
        Assert.Equal("alice", pulsed.ChangedBy);
        clock.Advance(TimeSpan.FromMilliseconds(799));
        Assert.True(chip.PhysicalLevel(5));
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.False(chip.PhysicalLevel(5));

        Assert.True(service.Switch("light", GpioCommand.Toggle, "bob").On);
        Assert.False(chip.PhysicalLevel(6));
        Assert.False(service.Switch("light", GpioCommand.Off, "bob").On);
        Assert.True(chip.PhysicalLevel(6));

        Assert.Throws<KeyNotFoundException>(() => service.Switch("nope", GpioCommand.On, "bob"));
        Assert.Throws<InvalidOperationException>(() => service.Switch("button", GpioCommand.On, "bob"));
    }
}

/// <summary>The pulse timer's races, with timers whose callbacks the test runs by hand.</summary>
public sealed class GpioPulseTimerTests
{
    /// <summary>
    /// Like <see cref="System.Threading.Timer"/> where it matters here: a callback the pool already dispatched still
    /// runs after the timer is disposed. Nothing fires by itself; <see cref="Run"/> runs a timer's callback.
    /// </summary>
    private sealed class DispatchingTimeProvider : TimeProvider
    {
        private readonly List<(TimerCallback Callback, object? State)> _timers = [];

        public int Created => _timers.Count;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            _timers.Add((callback, state));
            return new InertTimer();
        }

        /// <summary>Runs the callback of the <paramref name="index"/>-th timer created, disposed or not.</summary>
        public void Run(int index) => _timers[index].Callback(_timers[index].State);

        private sealed class InertTimer : ITimer
        {
            public bool Change(TimeSpan dueTime, TimeSpan period) => true;

            public void Dispose()
            {
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }

    private sealed class NullSink : IMotionAlertSink
    {
        public Task SendAsync(GpioAlert alert, CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>A simulated chip whose outputs refuse to be switched while <see cref="Failing"/> is set.</summary>
    private sealed class FailingChip() : SimulatedGpioDriver(32)
    {
        public bool Failing { get; set; }

        protected override void WriteLine(int line, bool value)
        {
            if (Failing)
            {
                throw new GpioException("setting line failed: Input/output error (EIO).") { Errno = 5 };
            }

            base.WriteLine(line, value);
        }
    }

    private static GpioService Create(ApplianceGpioDriver chip, TimeProvider clock, ILogger<GpioService> logger)
    {
        var options = new GpioOptions { Pins = { ["door"] = new GpioPinOptions { Line = 5, PulseMs = 800 } } };
        var lines = GpioLines.Open(options, _ => chip, out var errors);
        Assert.Empty(errors);
        return new GpioService(lines, new SnapshotService(new FrameHub(clock), new CameraOptions(), clock), new NullSink(), clock, logger);
    }

    [Fact]
    public void Pulse_FirstPulsesTimerAlreadyDispatchedWhenASecondPulseStarts_SecondPulseKeepsItsFullLength()
    {
        var clock = new DispatchingTimeProvider();
        var chip = new SimulatedGpioDriver(32);
        using var service = Create(chip, clock, NullLogger<GpioService>.Instance);

        service.Switch("door", GpioCommand.Pulse, "alice");
        service.Switch("door", GpioCommand.Pulse, "bob");
        Assert.Equal(2, clock.Created);

        clock.Run(0); // pulse 1's callback, dispatched before bob's pulse disposed its timer, gets the lock only now
        Assert.True(chip.PhysicalLevel(5), "pulse 2 was cut short by pulse 1's timer");
        Assert.Equal("bob", service.GetPins().Single().ChangedBy);

        clock.Run(1);
        Assert.False(chip.PhysicalLevel(5));
        Assert.Equal("pulse end", service.GetPins().Single().ChangedBy);
    }

    [Fact]
    public void Pulse_OutputFailsToSwitchOffAtTheEnd_IsLoggedAndDoesNotThrowOnTheTimerThread()
    {
        var clock = new DispatchingTimeProvider();
        var chip = new FailingChip();
        using var logs = new CapturingLoggerProvider();
        using var factory = new LoggerFactory([logs]);
        using var service = Create(chip, clock, factory.CreateLogger<GpioService>());

        service.Switch("door", GpioCommand.Pulse, "alice");
        chip.Failing = true;
        var thrown = Record.Exception(() => clock.Run(0));

        Assert.Null(thrown);
        Assert.Contains(logs.Lines, l => l.StartsWith("Error", StringComparison.Ordinal)
            && l.Contains("GPIO door pulse end: the output could not be switched off", StringComparison.Ordinal)
            && l.Contains("(EIO)", StringComparison.Ordinal));
        chip.Failing = false;
        Assert.False(service.Switch("door", GpioCommand.Off, "alice").On);
    }
}

public sealed class GpioEndpointTests
{
    private static readonly string[] Pins =
    [
        "--Gpio:Pins:porch-light:Line=17", "--Gpio:Pins:porch-light:ActiveLow=true",
        "--Gpio:Pins:door:Line=18", "--Gpio:Pins:door:PulseMs=200",
        "--Gpio:Pins:doorbell:Line=27", "--Gpio:Pins:doorbell:Mode=Input", "--Gpio:Pins:doorbell:OnPress=Snapshot",
    ];

    [Fact]
    public async Task Api_SwitchesOutputsAndRefusesBadRequests()
    {
        await using var server = await ApplianceServer.StartAsync(Pins);
        using var client = server.CreateClient();
        var chip = (SimulatedGpioDriver)server.GetRequiredService<GpioService>().Lines.Driver;

        var list = JsonNode.Parse(await client.GetStringAsync(new Uri("/api/gpio", UriKind.Relative)))!;
        Assert.Equal(["door", "doorbell", "porch-light"], list["pins"]!.AsArray().Select(p => p!["name"]!.GetValue<string>()));

        var on = await client.PostAsync(new Uri("/api/gpio/porch-light?action=on", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.OK, on.StatusCode);
        var pin = JsonNode.Parse(await on.Content.ReadAsStringAsync())!;
        Assert.True(pin["on"]!.GetValue<bool>());
        Assert.StartsWith("local (loopback", pin["changedBy"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.False(chip.PhysicalLevel(17));

        using var body = new StringContent("toggle");
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync(new Uri("/api/gpio/porch-light", UriKind.Relative), body)).StatusCode);
        Assert.True(chip.PhysicalLevel(17));

        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync(new Uri("/api/gpio/door?action=pulse", UriKind.Relative), null)).StatusCode);
        Assert.True(chip.PhysicalLevel(18));
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (chip.PhysicalLevel(18) == true && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.False(chip.PhysicalLevel(18));

        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsync(new Uri("/api/gpio/garage?action=on", UriKind.Relative), null)).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await client.PostAsync(new Uri("/api/gpio/doorbell?action=on", UriKind.Relative), null)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync(new Uri("/api/gpio/door?action=explode", UriKind.Relative), null)).StatusCode);
    }

    [Fact]
    public async Task Press_OnSimulatedInput_AppearsInStatus()
    {
        await using var server = await ApplianceServer.StartAsync(Pins);
        using var client = server.CreateClient();
        var chip = (SimulatedGpioDriver)server.GetRequiredService<GpioService>().Lines.Driver;
        chip.SetInput(27, physical: true);

        JsonNode? events = null;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            events = JsonNode.Parse(await client.GetStringAsync(new Uri("/api/status", UriKind.Relative)))!["gpio"]!["events"];
            if (events!.AsArray().Count > 0)
            {
                break;
            }

            await Task.Delay(50);
        }

        var press = Assert.Single(events!.AsArray())!;
        Assert.Equal("doorbell", press["pin"]!.GetValue<string>());
        Assert.Equal("Snapshot", press["action"]!.GetValue<string>());
        Assert.Equal("sent with snapshot", press["outcome"]!.GetValue<string>());
    }

    [Fact]
    public async Task Api_WithoutAdmin_IsRefused()
    {
        await using var server = await ApplianceServer.StartAsync([.. Pins, "--Web:TrustLoopback=false"]);
        using var client = server.CreateClient();
        var response = await client.PostAsync(new Uri("/api/gpio/porch-light?action=on", UriKind.Relative), null);
        Assert.Contains(response.StatusCode, new[] { HttpStatusCode.Unauthorized, HttpStatusCode.Forbidden, HttpStatusCode.Redirect });
        var chip = (SimulatedGpioDriver)server.GetRequiredService<GpioService>().Lines.Driver;
        Assert.True(chip.PhysicalLevel(17));
    }
}

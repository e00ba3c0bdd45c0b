using System.Collections.Concurrent;
using System.Device.Gpio;
using System.Net;
using Appliance;
using Appliance.Hardware.Gpio;
using Appliance.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Hardware.Tests;

/// <summary>The uAPI v2 driver, through GpioController as the appliance uses it, against a gpio-sim chip on a real kernel.</summary>
[Trait("Category", "Hardware")]
public sealed class GpioCharacterDeviceTests
{
    private static readonly TimeSpan EventTimeout = TimeSpan.FromSeconds(5);

    [Fact]
    public void Open_ByLabel_FindsTheSimulatedChip()
    {
        using var sim = new GpioSimChip();
        using var chip = CharacterDeviceGpioDriver.Open(sim.Label, NullLogger.Instance);
        Assert.Contains(sim.ChipName, chip.Description, StringComparison.Ordinal);
        Assert.Equal(8, chip.LineCount);

        var error = Assert.Throws<GpioException>(() => CharacterDeviceGpioDriver.Open("no-such-label", NullLogger.Instance));
        Assert.Contains(sim.Label, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RequestOutput_InitialValueAndActiveLow_SeenBySimulatedHardware()
    {
        using var sim = new GpioSimChip();
        using var chip = CharacterDeviceGpioDriver.Open(sim.DevicePath, NullLogger.Instance);
        using var relay = DriverLine.Output(chip, "test:relay", 1, activeLow: true, initialOn: false);
        using var light = DriverLine.Output(chip, "test:light", 2, activeLow: false, initialOn: true);
        Assert.Equal(1, sim.Value(1)); // off on an active-low relay board = high
        Assert.Equal(1, sim.Value(2));

        relay.Value = true;
        light.Value = false;
        Assert.Equal(0, sim.Value(1));
        Assert.Equal(0, sim.Value(2));
    }

    [Fact]
    public void RequestInput_PullChanges_DeliverEdgesInLogicalTerms()
    {
        using var sim = new GpioSimChip();
        sim.Pull(3, high: true);
        using var chip = CharacterDeviceGpioDriver.Open(sim.Label, NullLogger.Instance);
        var edges = new BlockingCollection<GpioEdgeEvent>();

        // A button to ground with a pull-up: pressed = low = logical 1 with ActiveLow.
        using var button = DriverLine.Input(chip, "test:button", 3, activeLow: true, GpioBias.PullUp, 0, GpioEdge.Both, edges.Add);
        Assert.False(button.Read());

        sim.Pull(3, high: false);
        Assert.True(edges.TryTake(out var press, EventTimeout), "no edge after the press");
        Assert.True(press.Rising);
        Assert.Equal(3, press.Line);
        Assert.True(button.Read());

        sim.Pull(3, high: true);
        Assert.True(edges.TryTake(out var release, EventTimeout), "no edge after the release");
        Assert.False(release.Rising);
        Assert.True(release.LineSeqno > press.LineSeqno);
    }

    [Fact]
    public void RequestInput_Debounce_FiltersGlitchesButPassesHeldChanges()
    {
        using var sim = new GpioSimChip();
        sim.Pull(4, high: false);
        using var chip = CharacterDeviceGpioDriver.Open(sim.Label, NullLogger.Instance);
        var edges = new BlockingCollection<GpioEdgeEvent>();
        using var input = DriverLine.Input(chip, "test:pir", 4, activeLow: false, GpioBias.AsIs, 200, GpioEdge.Both, edges.Add);

        // A glitch much shorter than the 200 ms debounce period.
        sim.Pull(4, high: true);
        sim.Pull(4, high: false);
        Assert.False(edges.TryTake(out _, TimeSpan.FromMilliseconds(600)), "a glitch shorter than the debounce period got through");

        sim.Pull(4, high: true);
        Assert.True(edges.TryTake(out var held, EventTimeout), "a held change did not get through the debouncer");
        Assert.True(held.Rising);
        Assert.False(edges.TryTake(out _, TimeSpan.FromMilliseconds(400)), "one held change gave more than one edge");
    }

    [Fact]
    public void RequestInput_ReaderStalled_KernelDropsOldestEventsAndTheGapIsLogged()
    {
        using var sim = new GpioSimChip();
        sim.Pull(6, high: false);
        var warnings = new WarningRecorder();
        using var chip = CharacterDeviceGpioDriver.Open(sim.Label, warnings);
        var delivered = new BlockingCollection<GpioEdgeEvent>();
        using var release = new ManualResetEventSlim();

        // A handler that holds the event thread (as a slow one would): the kernel keeps only the newest events.
        using var input = DriverLine.Input(chip, "test:pir", 6, activeLow: false, GpioBias.AsIs, 0, GpioEdge.Both, e =>
        {
            delivered.Add(e);
            release.Wait(EventTimeout * 4);
        });
        sim.Pull(6, high: true);
        Assert.True(delivered.TryTake(out var first, EventTimeout), "no edge before the stall");

        // Many more edges than the request's event buffer holds (16 per line by default) while the reader is held.
        // A short pause after each: gpio-sim raises the edge from deferred work, and toggles that come faster than it
        // runs merge into one edge (seen under TCG on a loaded machine: 100 toggles, 12 edges, nothing dropped).
        // 100 × 20 ms stays well inside the handler's hold.
        const int Toggles = 100;
        for (var i = 0; i < Toggles; i++)
        {
            sim.Pull(6, high: i % 2 == 1);
            Thread.Sleep(20);
        }

        release.Set();
        var after = new List<GpioEdgeEvent>();
        while (delivered.TryTake(out var e, TimeSpan.FromSeconds(1)))
        {
            after.Add(e);
        }

        Assert.NotEmpty(after);
        var seqnos = after.Select(e => e.LineSeqno).Prepend(first.LineSeqno).ToList();
        Assert.Equal(seqnos.Order(), seqnos);
        var gaps = seqnos.Zip(seqnos.Skip(1), (a, b) => b - a - 1).Where(gap => gap > 0).ToList();
        Assert.True(gaps.Sum(g => (long)g) > 0,
            $"the kernel dropped nothing: {after.Count} events arrived after the stall, seqnos {first.LineSeqno}..{seqnos[^1]}");
        Assert.True(after.Count <= 17, $"{after.Count} events arrived after the stall: more than the kernel's buffer holds");

        // Every gap the kernel left is reported once, with its size and the line.
        Assert.Equal(gaps.Select(g => $"GPIO line 6: the kernel dropped {g} edge events (reader too slow)"), warnings.Messages);
    }

    [Fact]
    public void Request_BusyOrUnknownLine_FailsNamingWhy()
    {
        using var sim = new GpioSimChip();
        using var chip = CharacterDeviceGpioDriver.Open(sim.Label, NullLogger.Instance);
        using var first = DriverLine.Output(chip, "test:first", 5, false, false);

        // Another user of the chip (its own driver, as another program would be): the kernel refuses.
        using var other = CharacterDeviceGpioDriver.Open(sim.Label, NullLogger.Instance);
        var busy = Assert.Throws<GpioException>(() => DriverLine.Output(other, "test:second", 5, false, false));
        Assert.Equal(16, busy.Errno);
        Assert.Contains("busy", busy.Message, StringComparison.Ordinal);
        Assert.Contains("test:first", busy.Message, StringComparison.Ordinal);

        var unknown = Assert.Throws<GpioException>(() => DriverLine.Output(chip, "test:far", 8, false, false));
        Assert.Contains("line 8 does not exist", unknown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Appliance_GpioApi_SwitchesRealLinesAndRecordsPresses()
    {
        using var sim = new GpioSimChip();
        sim.Pull(6, high: true);
        await using var app = await StartAppAsync(
            $"--Gpio:Chip={sim.Label}",
            "--Gpio:Pins:porch-light:Line=1", "--Gpio:Pins:porch-light:Mode=Output", "--Gpio:Pins:porch-light:ActiveLow=true",
            "--Gpio:Pins:door:Line=2", "--Gpio:Pins:door:PulseMs=300",
            "--Gpio:Pins:doorbell:Line=6", "--Gpio:Pins:doorbell:Mode=Input", "--Gpio:Pins:doorbell:ActiveLow=true",
            "--Gpio:Pins:doorbell:Bias=PullUp", "--Gpio:Pins:doorbell:OnPress=Snapshot", "--Gpio:Pins:doorbell:CooldownSeconds=60");
        using var client = new HttpClient { BaseAddress = app.Address };
        Assert.Equal(1, sim.Value(1));

        var on = await client.PostAsync(new Uri("/api/gpio/porch-light?action=on", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.OK, on.StatusCode);
        Assert.Equal(0, sim.Value(1));
        Assert.Contains("\"changedBy\":\"local", await on.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var pulse = await client.PostAsync(new Uri("/api/gpio/door?action=pulse", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.OK, pulse.StatusCode);
        Assert.Equal(1, sim.Value(2));
        GuestKernel.WaitFor(() => sim.Value(2) == 0, TimeSpan.FromSeconds(5), "the pulse to end");

        // One press, recorded, then a second one: gpio-sim's interrupt simulator keeps one pending bit per line, so two
        // presses pulled before its deferred work runs become one interrupt and one edge (seen once in CI).
        var gpio = app.Services.GetRequiredService<IGpioService>();
        sim.Pull(6, high: false);
        GuestKernel.WaitFor(() => gpio.RecentEvents.Any(e => e.Pin == "doorbell" && e.Pressed), TimeSpan.FromSeconds(20), "the first doorbell press");
        sim.Pull(6, high: true);
        sim.Pull(6, high: false);
        GuestKernel.WaitFor(() => gpio.RecentEvents.Count(e => e.Pin == "doorbell" && e.Pressed) >= 2, TimeSpan.FromSeconds(20), "two doorbell presses");
        var presses = gpio.RecentEvents.Where(e => e.Pin == "doorbell" && e.Pressed).ToList();
        Assert.StartsWith("sent", presses[0].Outcome, StringComparison.Ordinal);
        Assert.StartsWith("cooldown", presses[1].Outcome, StringComparison.Ordinal);
    }

    [Fact]
    public void Appliance_BusyLine_IsAStartupErrorNamingThePin()
    {
        using var sim = new GpioSimChip();
        using var chip = CharacterDeviceGpioDriver.Open(sim.Label, NullLogger.Instance);
        using var holder = DriverLine.Output(chip, "other-program", 3, false, false);

        var error = Assert.Throws<ConfigurationException>(() => Program.BuildApp(
            ["--urls=http://127.0.0.1:0", "--Camera:Source=synthetic", $"--Gpio:Chip={sim.Label}", "--Gpio:Pins:siren:Line=3", "--Gpio:Pins:lamp:Line=9"]));
        Assert.Contains("Gpio:Pins:siren: line 3 is busy (in use by 'other-program')", error.Message, StringComparison.Ordinal);
        Assert.Contains("Gpio:Pins:lamp: line 9 does not exist", error.Message, StringComparison.Ordinal);
    }

    internal static async Task<RunningApp> StartAppAsync(params string[] settings)
    {
        var state = Directory.CreateTempSubdirectory("hw-state-").FullName;
        Environment.SetEnvironmentVariable(ApplianceConfiguration.ConfigDirectoryVariable, Directory.CreateTempSubdirectory("hw-etc-").FullName);
        var app = Program.BuildApp(["--urls=http://127.0.0.1:0", $"--State:Directory={state}", "--Logging:LogLevel:Default=Warning",
            "--Camera:Source=synthetic", "--Camera:Width=160", "--Camera:Height=120", .. settings]);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new RunningApp(app, new Uri(address));
    }

    internal sealed class RunningApp(WebApplication app, Uri address) : IAsyncDisposable
    {
        public Uri Address => address;

        public IServiceProvider Services => app.Services;

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    [Fact]
    public async Task Doctor_WhileTheServiceHoldsTheLines_DoesNotCallThemBusy()
    {
        using var sim = new GpioSimChip();
        using var chip = CharacterDeviceGpioDriver.Open(sim.DevicePath, NullLogger.Instance);
        using var held = DriverLine.Output(chip, "appliance:porch-light", 1, activeLow: false, initialOn: false); // the running service
        string[] settings = [$"--Gpio:Chip={sim.DevicePath}", "--Gpio:Pins:porch-light:Line=1", "--Camera:Source=synthetic",
            $"--State:Directory={Directory.CreateTempSubdirectory().FullName}"];

        // A second service would refuse to start: the line is busy.
        var busy = Assert.Throws<ConfigurationException>(() => Program.BuildApp(settings));
        Assert.Contains("Gpio:Pins:porch-light", busy.Message, StringComparison.Ordinal);

        // The doctor checks the same settings without taking the line.
        using var output = new StringWriter();
        await Appliance.Doctor.DoctorCommand.RunAsync(settings, output, CancellationToken.None);
        // ("Settings in effect" names the pin's keys and where they came from: that is not a complaint about it.)
        var lines = output.ToString().Split('\n');
        Assert.Contains(lines, l => l.StartsWith("✓ Configuration: valid", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => !l.StartsWith("✓ Settings in effect", StringComparison.Ordinal) && l.Contains("Gpio:Pins:porch-light", StringComparison.Ordinal));
    }

    private sealed class WarningRecorder : ILogger
    {
        private readonly ConcurrentQueue<string> _messages = new();

        public IReadOnlyList<string> Messages => [.. _messages];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Warning)
            {
                _messages.Enqueue(formatter(state, exception));
            }
        }
    }
}

using System.Collections.Concurrent;
using System.Device.Gpio;
using Appliance.Hardware.Gpio;
using Iot.Device.Button;
using Iot.Device.Hcsr501;
using Microsoft.Extensions.Logging.Abstractions;

namespace Hardware.Tests;

/// <summary>An Iot.Device.Bindings part on the appliance's own uAPI v2 driver, through GpioController, on gpio-sim.</summary>
[Trait("Category", "Hardware")]
public sealed class GpioBindingTests
{
    private static readonly TimeSpan EventTimeout = TimeSpan.FromSeconds(10);

    [Fact]
    public void GpioButton_OnTheCharacterDeviceDriver_ReportsDownUpAndPress()
    {
        using var sim = new GpioSimChip();
        var driver = CharacterDeviceGpioDriver.Open(sim.Label, NullLogger.Instance);
        var events = new BlockingCollection<string>();

        // A doorbell button to ground: the binding asks for InputPullUp and both edges through the controller.
        using var button = new GpioButton(3, isPullUp: true, hasExternalResistor: false, new GpioController(driver), shouldDispose: true);
        button.ButtonDown += (_, _) => events.Add("down");
        button.ButtonUp += (_, _) => events.Add("up");
        button.Press += (_, _) => events.Add("press");
        Assert.False(button.IsPressed);
        Assert.Equal(1, sim.Value(3)); // the pull-up the binding asked for reached the (simulated) pad

        sim.Pull(3, high: false);
        Assert.True(events.TryTake(out var down, EventTimeout), "no ButtonDown after the press");
        Assert.Equal("down", down);
        Assert.True(button.IsPressed);

        sim.Pull(3, high: true);
        Assert.True(events.TryTake(out var up, EventTimeout), "no ButtonUp after the release");
        Assert.True(events.TryTake(out var press, EventTimeout), "no Press after the release");
        Assert.Equal(["up", "press"], [up, press]);
        Assert.False(button.IsPressed);
    }

    [Fact]
    public void Hcsr501_OnTheCharacterDeviceDriver_ReportsMotionAndItsEnd()
    {
        using var sim = new GpioSimChip();
        sim.Pull(4, high: false); // the PIR's output idles low
        var values = new BlockingCollection<PinValue>();

        // The binding opens the pin as a plain input and asks for both edges through the controller.
        using var pir = new Hcsr501(4, new GpioController(CharacterDeviceGpioDriver.Open(sim.Label, NullLogger.Instance)), shouldDispose: true);
        pir.Hcsr501ValueChanged += (_, e) => values.Add(e.PinValue);
        Assert.False(pir.IsMotionDetected);

        sim.Pull(4, high: true);
        Assert.True(values.TryTake(out var motion, EventTimeout), "no Hcsr501ValueChanged when the output went high");
        Assert.Equal(PinValue.High, motion);
        Assert.True(pir.IsMotionDetected);

        sim.Pull(4, high: false);
        Assert.True(values.TryTake(out var quiet, EventTimeout), "no Hcsr501ValueChanged when the output went low");
        Assert.Equal(PinValue.Low, quiet);
        Assert.False(pir.IsMotionDetected);
    }

    [Fact]
    public void WaitForEvent_OnTheCharacterDeviceDriver_BlocksUntilTheEdge()
    {
        using var sim = new GpioSimChip();
        sim.Pull(5, high: false);
        using var controller = new GpioController(CharacterDeviceGpioDriver.Open(sim.Label, NullLogger.Instance));
        controller.OpenPin(5, PinMode.Input);

        var timedOut = controller.WaitForEvent(5, PinEventTypes.Rising, TimeSpan.FromMilliseconds(300));
        Assert.True(timedOut.TimedOut);

        using var waiting = new ManualResetEventSlim();
        var result = default(WaitForEventResult);
        var waiter = new Thread(() =>
        {
            waiting.Set();
            result = controller.WaitForEvent(5, PinEventTypes.Rising, TimeSpan.FromSeconds(20));
        });
        waiter.Start();
        waiting.Wait();

        // The waiter reconfigures the request with the edge on its own thread: toggle until it has seen a rising edge.
        var deadline = DateTime.UtcNow + EventTimeout;
        while (!waiter.Join(200) && DateTime.UtcNow < deadline)
        {
            sim.Pull(5, high: true);
            Thread.Sleep(50);
            sim.Pull(5, high: false);
        }

        Assert.True(waiter.Join(0), "WaitForEvent did not return after rising edges");
        Assert.False(result.TimedOut);
        Assert.Equal(PinEventTypes.Rising, result.EventTypes);
    }
}

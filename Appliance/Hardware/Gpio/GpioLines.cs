using System.Device.Gpio;
using System.Threading.Channels;

namespace Appliance.Hardware.Gpio;

/// <summary>
/// The chip's driver behind a <see cref="GpioController"/>, and every configured pin opened through it at start-up (so
/// an unknown or busy line stops the appliance with a message naming the pin), kept open for the app's life. Settings
/// the controller's API lacks (active-low, bias, debounce, consumer label) go through the driver; edges, with the
/// kernel's timestamps and sequence numbers, go into a bounded drop-oldest channel that <see cref="GpioService"/>
/// consumes asynchronously.
/// </summary>
internal sealed class GpioLines : IDisposable
{
    private readonly Dictionary<string, Pin> _pins = new(StringComparer.Ordinal);

    private GpioLines(ApplianceGpioDriver driver)
    {
        Driver = driver;
        Controller = new GpioController(driver);
    }

    /// <summary>The chip's driver (the kernel's or the simulated one); the controller owns and disposes it.</summary>
    public ApplianceGpioDriver Driver { get; }

    /// <summary>What the pins, and any Iot.Device.Bindings part, use.</summary>
    public GpioController Controller { get; }

    public IReadOnlyDictionary<string, Pin> Pins => _pins;

    public Channel<(string Pin, GpioEdgeEvent Edge)> Edges { get; } =
        Channel.CreateBounded<(string, GpioEdgeEvent)>(new BoundedChannelOptions(256) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

    /// <summary>Opens the chip and each pin; problems come back as messages naming the pin.</summary>
    public static GpioLines Open(GpioOptions options, Func<string, ApplianceGpioDriver> openDriver, out List<string> errors)
    {
        errors = [];
        ApplianceGpioDriver driver;
        try
        {
            driver = openDriver(options.Chip);
        }
        catch (GpioException ex)
        {
            errors.Add(ex.Message);
            driver = new SimulatedGpioDriver(0);
        }

        var lines = new GpioLines(driver);
        if (errors.Count > 0)
        {
            return lines;
        }

        foreach (var (name, pin) in options.Pins.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            try
            {
                lines.OpenPin(name, pin);
            }
            catch (GpioException ex)
            {
                errors.Add($"Gpio:Pins:{name}: {ex.Message}");
            }
        }

        return lines;
    }

    private void OpenPin(string name, GpioPinOptions pin)
    {
        Driver.ConfigureLine(pin.Line, new GpioLineSettings($"appliance:{name}", pin.ActiveLow, pin.Bias, pin.DebounceMs));
        try
        {
            if (pin.Mode == GpioMode.Output)
            {
                Controller.OpenPin(pin.Line, PinMode.Output, pin.InitialOn ? PinValue.High : PinValue.Low);
            }
            else
            {
                Controller.OpenPin(pin.Line, PinMode.Input);
                Driver.SetEdgeHandler(pin.Line, pin.Edge, e => Edges.Writer.TryWrite((name, e)));
            }
        }
        catch (GpioException)
        {
            if (Controller.IsPinOpen(pin.Line))
            {
                Controller.ClosePin(pin.Line);
            }

            throw;
        }

        _pins.Add(name, new Pin(name, pin, Controller));
    }

    /// <summary>
    /// What <see cref="Open"/> would say about the chip and the line numbers, without opening any line (the doctor
    /// runs while the service holds them).
    /// </summary>
    public static List<string> Check(GpioOptions options, Func<string, ApplianceGpioDriver> openDriver)
    {
        List<string> errors = [];
        try
        {
            using var driver = openDriver(options.Chip);
            foreach (var (name, pin) in options.Pins.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                if (pin.Line >= driver.LineCount)
                {
                    errors.Add($"Gpio:Pins:{name}: line {pin.Line} does not exist on {driver.Description} ({driver.LineCount} lines).");
                }
            }
        }
        catch (GpioException ex)
        {
            errors.Add(ex.Message);
        }

        return errors;
    }

    public void Dispose()
    {
        Edges.Writer.TryComplete();

        // Closes every pin (their requests) and disposes the driver.
        Controller.Dispose();
    }

    /// <summary>A named pin, opened on the controller.</summary>
    internal sealed record Pin(string Name, GpioPinOptions Options, GpioController Controller)
    {
        public bool IsOutput => Options.Mode == GpioMode.Output;

        /// <summary>The logical value (true = active/on). Throws <see cref="GpioException"/> when the kernel refuses.</summary>
        public bool Read() => Controller.Read(Options.Line) == PinValue.High;

        /// <summary>Sets an output's logical value. Throws <see cref="GpioException"/> when the kernel refuses.</summary>
        public void Write(bool value) => Controller.Write(Options.Line, value ? PinValue.High : PinValue.Low);
    }
}

using System.Threading.Channels;

namespace Appliance.Hardware.Gpio;

/// <summary>
/// The opened chip and every configured pin's line request, made at start-up (so an unknown or busy line stops the
/// appliance with a message naming the pin) and kept open for the app's life. Edges go into a bounded drop-oldest
/// channel that <see cref="GpioService"/> consumes asynchronously.
/// </summary>
internal sealed class GpioLines : IDisposable
{
    private readonly Dictionary<string, Pin> _pins = new(StringComparer.Ordinal);

    private GpioLines(IGpioChip chip) => Chip = chip;

    public IGpioChip Chip { get; }

    public IReadOnlyDictionary<string, Pin> Pins => _pins;

    public Channel<(string Pin, GpioEdgeEvent Edge)> Edges { get; } =
        Channel.CreateBounded<(string, GpioEdgeEvent)>(new BoundedChannelOptions(256) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

    /// <summary>Opens the chip and requests each pin; problems come back as messages naming the pin.</summary>
    public static GpioLines Open(GpioOptions options, Func<string, IGpioChip> openChip, out List<string> errors)
    {
        errors = [];
        IGpioChip chip;
        try
        {
            chip = openChip(options.Chip);
        }
        catch (GpioException ex)
        {
            errors.Add(ex.Message);
            chip = new SimulatedGpioChip(0);
        }

        var lines = new GpioLines(chip);
        if (errors.Count > 0)
        {
            return lines;
        }

        foreach (var (name, pin) in options.Pins.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var consumer = $"appliance:{name}";
            try
            {
                if (pin.Mode == GpioMode.Output)
                {
                    lines._pins.Add(name, new Pin(name, pin, chip.RequestOutput(consumer, pin.Line, pin.ActiveLow, pin.InitialOn), null));
                }
                else
                {
                    var input = chip.RequestInput(consumer, pin.Line, pin.ActiveLow, pin.Bias, pin.DebounceMs, pin.Edge, e => lines.Edges.Writer.TryWrite((name, e)));
                    lines._pins.Add(name, new Pin(name, pin, null, input));
                }
            }
            catch (GpioException ex)
            {
                errors.Add($"Gpio:Pins:{name}: {ex.Message}");
            }
        }

        return lines;
    }

    /// <summary>
    /// What <see cref="Open"/> would say about the chip and the line numbers, without requesting any line (the doctor
    /// runs while the service holds them).
    /// </summary>
    public static List<string> Check(GpioOptions options, Func<string, IGpioChip> openChip)
    {
        List<string> errors = [];
        try
        {
            using var chip = openChip(options.Chip);
            foreach (var (name, pin) in options.Pins.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                if (pin.Line >= chip.LineCount)
                {
                    errors.Add($"Gpio:Pins:{name}: line {pin.Line} does not exist on {chip.Description} ({chip.LineCount} lines).");
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
        foreach (var pin in _pins.Values)
        {
            pin.Output?.Dispose();
            pin.Input?.Dispose();
        }

        Chip.Dispose();
    }

    internal sealed record Pin(string Name, GpioPinOptions Options, IGpioOutput? Output, IGpioInput? Input);
}

using System.Device.Gpio;
using Appliance.Hardware.Gpio;

namespace Hardware.Tests;

/// <summary>
/// One line opened through its own <see cref="GpioController"/> on a shared driver, with the driver's own settings
/// (consumer, active-low, bias, debounce) and edge handler, as <c>GpioLines</c> does for a configured pin. The
/// controller is never disposed (that would dispose the shared driver): only the line is closed.
/// </summary>
internal sealed class DriverLine : IDisposable
{
    private readonly GpioController _controller;
    private readonly int _line;

    private DriverLine(GpioController controller, int line)
    {
        _controller = controller;
        _line = line;
    }

    /// <summary>The logical value (true = active).</summary>
    public bool Value
    {
        get => Read();
        set => _controller.Write(_line, value ? PinValue.High : PinValue.Low);
    }

    public static DriverLine Output(ApplianceGpioDriver driver, string consumer, int line, bool activeLow, bool initialOn)
    {
        driver.ConfigureLine(line, new GpioLineSettings(consumer, activeLow));
        var controller = new GpioController(driver);
        try
        {
            controller.OpenPin(line, PinMode.Output, initialOn ? PinValue.High : PinValue.Low);
        }
        catch
        {
            Close(controller, line);
            throw;
        }

        return new DriverLine(controller, line);
    }

    public static DriverLine Input(ApplianceGpioDriver driver, string consumer, int line, bool activeLow, GpioBias bias, int debounceMs, GpioEdge edge, Action<GpioEdgeEvent> onEdge)
    {
        driver.ConfigureLine(line, new GpioLineSettings(consumer, activeLow, bias, debounceMs));
        var controller = new GpioController(driver);
        try
        {
            controller.OpenPin(line, PinMode.Input);
            driver.SetEdgeHandler(line, edge, onEdge);
        }
        catch
        {
            Close(controller, line);
            throw;
        }

        return new DriverLine(controller, line);
    }

    public bool Read() => _controller.Read(_line) == PinValue.High;

    /// <summary>Closes the line only: disposing a controller would dispose the shared driver.</summary>
    public void Dispose() => Close(_controller, _line);

    private static void Close(GpioController controller, int line)
    {
        if (controller.IsPinOpen(line))
        {
            controller.ClosePin(line);
        }
    }
}

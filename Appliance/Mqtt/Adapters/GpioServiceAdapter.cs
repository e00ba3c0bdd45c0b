using Appliance.Hardware.Gpio;

namespace Appliance.Mqtt.Adapters;

/// <summary>
/// <see cref="IMqttHardware"/> over today's <see cref="GpioService"/>. The pin's role comes from what its press does
/// (OnPress Alert is the PIR, Snapshot the doorbell), the only role the GPIO settings express so far.
/// </summary>
internal sealed class GpioServiceAdapter : IMqttHardware, IDisposable
{
    private readonly GpioService _gpio;

    public GpioServiceAdapter(GpioService gpio)
    {
        _gpio = gpio;
        Pins = [.. gpio.Lines.Pins.Values.OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => new MqttPin(p.Name, RoleOf(p.Options)))];
        _gpio.OutputChanged += OnOutputChanged;
        _gpio.InputEdge += OnInputEdge;
    }

    public IReadOnlyList<MqttPin> Pins { get; }

    public event Action<string, bool>? Changed;

    public bool? Read(string name)
    {
        if (!_gpio.Lines.Pins.TryGetValue(name, out var pin))
        {
            return null;
        }

        try
        {
            return pin.Read();
        }
        catch (GpioException)
        {
            return null;
        }
    }

    public void Switch(string name, MqttSwitchCommand command, string who) =>
        _gpio.Switch(name, command switch
        {
            MqttSwitchCommand.On => GpioCommand.On,
            MqttSwitchCommand.Off => GpioCommand.Off,
            _ => GpioCommand.Pulse,
        }, who);

    internal static MqttPinRole RoleOf(GpioPinOptions options) => options switch
    {
        { Mode: GpioMode.Output } => MqttPinRole.Output,
        { OnPress: GpioPressAction.Alert } => MqttPinRole.Motion,
        { OnPress: GpioPressAction.Snapshot } => MqttPinRole.Doorbell,
        _ => MqttPinRole.Input,
    };

    private void OnOutputChanged(string name)
    {
        if (Read(name) is { } on)
        {
            Changed?.Invoke(name, on);
        }
    }

    private void OnInputEdge(string name, bool rising) => Changed?.Invoke(name, rising);

    public void Dispose()
    {
        _gpio.OutputChanged -= OnOutputChanged;
        _gpio.InputEdge -= OnInputEdge;
    }
}

namespace Appliance.Hardware.Gpio;

/// <summary>The <c>Gpio</c> configuration section.</summary>
public sealed class GpioOptions
{
    public const string SectionName = "Gpio";
    public const string Simulated = "simulated";

    /// <summary>
    /// The GPIO chip: its label (Pi 4 <c>pinctrl-bcm2711</c>, Pi 5 <c>pinctrl-rp1</c>), or a path such as
    /// /dev/gpiochip0, or <c>simulated</c> (the default: an in-memory chip, for machines without GPIO).
    /// </summary>
    public string Chip { get; set; } = Simulated;

    /// <summary>Named pins, e.g. <c>Gpio:Pins:porch-light</c> = { Line: 17, Mode: Output, ActiveLow: true }.</summary>
    public Dictionary<string, GpioPinOptions> Pins { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Every problem with these settings, each naming its key; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(Chip))
        {
            errors.Add("Gpio:Chip must be a chip label (e.g. pinctrl-bcm2711), a path (/dev/gpiochip0) or 'simulated'.");
        }

        var byLine = new Dictionary<int, string>();
        var byName = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, pin) in Pins.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var key = $"Gpio:Pins:{name}";
            if (!IsValidName(name))
            {
                errors.Add($"{key}: pin names may use letters, digits, '-' and '_' (1-32 characters).");
            }

            if (!byName.TryAdd(name, name))
            {
                // WeCom members' "on light" finds a pin ignoring case, so it could not tell these apart.
                errors.Add($"{key}: the name differs only in case from Gpio:Pins:{byName[name]} (pin names are matched ignoring case).");
            }

            errors.AddRange(pin.Validate(key));
            if (pin.Line >= 0 && !byLine.TryAdd(pin.Line, name))
            {
                errors.Add($"{key}: line {pin.Line} is already used by Gpio:Pins:{byLine[pin.Line]} (two names on one line).");
            }

            foreach (var alias in pin.Aliases)
            {
                // One word a member can type after 开/关/on/off: it must name one output only.
                if (Pins.Keys.FirstOrDefault(other => other != name && (string.Equals(other, alias, StringComparison.OrdinalIgnoreCase)
                        || Pins[other].Aliases.Contains(alias, StringComparer.OrdinalIgnoreCase))) is { } clash)
                {
                    errors.Add($"{key}:Aliases: '{alias}' also names Gpio:Pins:{clash}.");
                }
            }
        }

        return errors;
    }

    internal static bool IsValidName(string name) =>
        name.Length is > 0 and <= 32 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
}

/// <summary>One named pin.</summary>
public sealed class GpioPinOptions
{
    /// <summary>Line offset on the chip (on a Pi: the BCM GPIO number). Required.</summary>
    public int Line { get; set; } = -1;

    /// <summary>Output (relay, light, door strike) or Input (button, PIR).</summary>
    public GpioMode Mode { get; set; } = GpioMode.Output;

    /// <summary>True when "on"/"pressed" is the low level (relay boards, buttons to ground).</summary>
    public bool ActiveLow { get; set; }

    /// <summary>Inputs: AsIs, PullUp, PullDown or Disabled.</summary>
    public GpioBias Bias { get; set; } = GpioBias.AsIs;

    /// <summary>Inputs: debounce period in milliseconds done by the kernel (0 = none, up to 1000).</summary>
    public int DebounceMs { get; set; }

    /// <summary>Inputs: which edges are reported: Rising (press), Falling, Both or None.</summary>
    public GpioEdge Edge { get; set; } = GpioEdge.Rising;

    /// <summary>Inputs: what a press (rising edge of the active level) does: None, Snapshot or Alert.</summary>
    public GpioPressAction OnPress { get; set; } = GpioPressAction.None;

    /// <summary>Inputs: presses within this many seconds after one that acted are recorded but do not act again.</summary>
    public int CooldownSeconds { get; set; } = 60;

    /// <summary>Outputs: how long <c>pulse</c> keeps the output on, in milliseconds (door strikes).</summary>
    public int PulseMs { get; set; } = 500;

    /// <summary>Outputs: the value set when the line is requested at start-up.</summary>
    public bool InitialOn { get; set; }

    /// <summary>
    /// Outputs: other names WeCom members may use for it, in any script, e.g. ["灯", "light"] so that "开灯" and
    /// "on light" switch this pin (pin names themselves are ASCII, as they appear in URLs).
    /// </summary>
    public string[] Aliases { get; set; } = [];

    internal IEnumerable<string> Validate(string key)
    {
        if (Line is < 0 or > 1023)
        {
            yield return $"{key}:Line must be a line offset between 0 and 1023 (got {Line}).";
        }

        if (!Enum.IsDefined(Mode))
        {
            yield return $"{key}:Mode must be Output or Input.";
        }

        // A number binds to any enum silently (Edge=7 would request no edges at all), so each is checked.
        if (!Enum.IsDefined(Bias))
        {
            yield return $"{key}:Bias must be AsIs, PullUp, PullDown or Disabled (got {Bias}).";
        }

        if (!Enum.IsDefined(Edge))
        {
            yield return $"{key}:Edge must be Rising, Falling, Both or None (got {Edge}).";
        }

        if (!Enum.IsDefined(OnPress))
        {
            yield return $"{key}:OnPress must be None, Snapshot or Alert (got {OnPress}).";
        }

        if (DebounceMs is < 0 or > 1000)
        {
            yield return $"{key}:DebounceMs must be between 0 and 1000 (got {DebounceMs}).";
        }

        if (CooldownSeconds is < 0 or > 86400)
        {
            yield return $"{key}:CooldownSeconds must be between 0 and 86400 (got {CooldownSeconds}).";
        }

        if (PulseMs is < 1 or > 60000)
        {
            yield return $"{key}:PulseMs must be between 1 and 60000 (got {PulseMs}).";
        }

        if (Mode == GpioMode.Output && OnPress != GpioPressAction.None)
        {
            yield return $"{key}:OnPress applies to inputs only (the pin is an Output).";
        }

        if (Mode == GpioMode.Input && Aliases.Length > 0)
        {
            yield return $"{key}:Aliases apply to outputs only (the pin is an Input).";
        }

        foreach (var alias in Aliases)
        {
            if (alias.Length is 0 or > 16 || alias.Any(char.IsWhiteSpace) || alias.Any(char.IsPunctuation))
            {
                yield return $"{key}:Aliases: '{alias}' must be one word of 1-16 characters, without spaces or punctuation.";
            }
        }

        if (Mode == GpioMode.Input && OnPress != GpioPressAction.None && Edge is GpioEdge.None or GpioEdge.Falling)
        {
            yield return $"{key}:OnPress needs Edge Rising or Both (got {Edge}).";
        }
    }
}

public enum GpioMode
{
    Output,
    Input,
}

public enum GpioBias
{
    AsIs,
    PullUp,
    PullDown,
    Disabled,
}

public enum GpioEdge
{
    Rising,
    Falling,
    Both,
    None,
}

public enum GpioPressAction
{
    None,
    Snapshot,
    Alert,
}

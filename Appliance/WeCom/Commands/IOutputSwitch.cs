namespace Appliance.WeCom.Commands;

/// <summary>
/// Named outputs the admins switch (relay, door opener, light). The hardware feature implements it over the
/// configured GPIO output pins (Gpio:Pins; on the simulated chip by default).
/// </summary>
public interface IOutputSwitch
{
    /// <summary>Whether the outputs are real or simulated, for answers and status.</summary>
    bool IsSimulated { get; }

    IReadOnlyList<string> Names { get; }

    /// <summary>The output called <paramref name="name"/> or one of its aliases (灯 for porch), ignoring case; null when none.</summary>
    string? Find(string name);

    /// <summary>An output as the help text shows it: "porch (灯, light)".</summary>
    string Label(string name) => name;

    /// <summary>The output's state, or null when no output has that name.</summary>
    bool? GetState(string name);

    /// <summary>Switches an output; <paramref name="who"/> (e.g. "wecom:alice") goes into the log.</summary>
    Task SetAsync(string name, bool on, string who, CancellationToken cancellationToken);

    /// <summary>On, then off after the output's own pulse length (door openers, buzzers); returns that length.</summary>
    Task<TimeSpan> PulseAsync(string name, string who, CancellationToken cancellationToken);
}

namespace Appliance.WeCom.Commands;

/// <summary>
/// Named outputs the admins switch (relay, door opener, light). The hardware feature registers the GPIO-backed
/// implementation; until then <see cref="SimulatedOutputSwitch"/> stands in (WeCom:SimulatedOutputs).
/// </summary>
public interface IOutputSwitch
{
    /// <summary>Whether the outputs are real or simulated, for answers and status.</summary>
    bool IsSimulated { get; }

    IReadOnlyList<string> Names { get; }

    /// <summary>The output's state, or null when no output has that name.</summary>
    bool? GetState(string name);

    Task SetAsync(string name, bool on, CancellationToken cancellationToken);

    /// <summary>On for <paramref name="duration"/>, then off (door openers, buzzers).</summary>
    Task PulseAsync(string name, TimeSpan duration, CancellationToken cancellationToken);
}

/// <summary>Outputs that only exist in memory, so the commands work (and are tested) before GPIO lands.</summary>
internal sealed partial class SimulatedOutputSwitch(WeComOptions options, TimeProvider time, ILogger<SimulatedOutputSwitch> logger) : IOutputSwitch
{
    private readonly Dictionary<string, bool> _states = options.SimulatedOutputs.ToDictionary(n => n, _ => false, StringComparer.OrdinalIgnoreCase);
    private readonly Lock _lock = new();

    public bool IsSimulated => true;

    public IReadOnlyList<string> Names => options.SimulatedOutputs;

    public bool? GetState(string name)
    {
        lock (_lock)
        {
            return _states.TryGetValue(name, out var on) ? on : null;
        }
    }

    public Task SetAsync(string name, bool on, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (!_states.ContainsKey(name))
            {
                throw new ArgumentException($"No output named '{name}'.", nameof(name));
            }

            _states[name] = on;
        }

        LogSwitched(logger, name, on);
        return Task.CompletedTask;
    }

    public async Task PulseAsync(string name, TimeSpan duration, CancellationToken cancellationToken)
    {
        await SetAsync(name, true, cancellationToken);
        try
        {
            await Task.Delay(duration, time, cancellationToken);
        }
        finally
        {
            await SetAsync(name, false, CancellationToken.None);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Simulated output {Name} switched {On}")]
    private static partial void LogSwitched(ILogger logger, string name, bool on);
}

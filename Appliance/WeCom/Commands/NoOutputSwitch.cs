namespace Appliance.WeCom.Commands;

/// <summary>
/// The outputs while no feature provides any (the appliance composed without the hardware feature): none, so
/// 开 / on NAME answers that no outputs are configured. Registered with TryAdd; the hardware feature replaces it.
/// </summary>
internal sealed class NoOutputSwitch : IOutputSwitch
{
    public bool IsSimulated => false;

    public IReadOnlyList<string> Names => [];

    public string? Find(string name) => null;

    public bool? GetState(string name) => null;

    public Task SetAsync(string name, bool on, string who, CancellationToken cancellationToken) =>
        throw new InvalidOperationException($"No output called '{name}': no outputs are configured.");

    public Task<TimeSpan> PulseAsync(string name, string who, CancellationToken cancellationToken) =>
        throw new InvalidOperationException($"No output called '{name}': no outputs are configured.");
}

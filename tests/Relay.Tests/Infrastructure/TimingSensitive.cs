namespace Relay.Tests.Infrastructure;

/// <summary>
/// Tests that assert answer times (WeCom must hear back within a second) run on their own, after the parallel ones,
/// so other classes starting relays and appliances at the same moment do not make them flaky.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingSensitive
{
    public const string Name = "Timing-sensitive";
}

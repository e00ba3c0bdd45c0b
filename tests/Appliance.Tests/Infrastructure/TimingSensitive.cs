namespace Appliance.Tests.Infrastructure;

/// <summary>
/// Tests that measure delivered frame rates run on their own, after the parallel ones, so a busy machine running
/// other test classes at the same time does not make them flaky.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingSensitive
{
    public const string Name = "Timing-sensitive";
}

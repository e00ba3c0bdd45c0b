namespace Appliance.Tests.Infrastructure;

/// <summary>
/// Tests that measure delivered frame rates run on their own, after the parallel ones, so a busy machine running
/// other test classes at the same time does not make them flaky; and after <see cref="StreamingWarmUp"/>, so they
/// do not measure the JIT either.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingSensitive : ICollectionFixture<StreamingWarmUp>
{
    public const string Name = "Timing-sensitive";
}

/// <summary>
/// Streams for a few seconds before the first timing-sensitive test: a process's first seconds of streaming run
/// code that is still being compiled, which would be measured as a slow viewer.
/// </summary>
public sealed class StreamingWarmUp : IAsyncLifetime
{
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(3);

    public async Task InitializeAsync()
    {
        await using var server = await ApplianceServer.StartAsync();
        using var client = server.CreateClient();
        using var response = await client.GetAsync("/stream", HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        var reader = new MultipartReader(body);
        using var stuck = new CancellationTokenSource(Duration + TimeSpan.FromSeconds(10));
        var warming = System.Diagnostics.Stopwatch.StartNew();
        while (warming.Elapsed < Duration)
        {
            await reader.ReadPartAsync(stuck.Token);
        }
    }

    public Task DisposeAsync() => Task.CompletedTask;
}

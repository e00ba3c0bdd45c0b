using System.Collections.Concurrent;
using Appliance.WeCom.Api;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Tests.WeCom;

public sealed class MemberRateLimiterTests
{
    [Fact]
    public async Task Submit_OverLimit_QueuedThenMergedWhenWindowOpensNothingLost()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UnixEpoch);
        var delivered = new ConcurrentQueue<(string User, WeComMessage Message)>();
        using var limiter = new MemberRateLimiter(2, TimeSpan.FromMinutes(1), clock, (u, m) => { delivered.Enqueue((u, m)); return Task.CompletedTask; }, NullLogger.Instance);

        var sends = new List<Task>();
        for (var i = 1; i <= 5; i++)
        {
            sends.Add(limiter.SubmitAsync("alice", new TextMessage($"t{i}")));
        }

        sends.Add(limiter.SubmitAsync("alice", new ImageMessage("old")));
        sends.Add(limiter.SubmitAsync("alice", new ImageMessage("new")));
        sends.Add(limiter.SubmitAsync("bob", new TextMessage("b1")));

        Assert.Equal(3, delivered.Count);
        Assert.Equal(5, limiter.Queued("alice"));
        clock.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal(3, delivered.Count);

        clock.Advance(TimeSpan.FromSeconds(1));
        await Task.WhenAll(sends).WaitAsync(TimeSpan.FromSeconds(5));

        var alice = delivered.Where(d => d.User == "alice").Select(d => d.Message).ToList();
        Assert.Equal(4, alice.Count);
        var merged = Assert.IsType<TextMessage>(alice[2]);
        Assert.StartsWith("t3\n\nt4\n\nt5", merged.Content, StringComparison.Ordinal);
        Assert.Contains("1 older picture", merged.Content, StringComparison.Ordinal);
        Assert.Equal(new ImageMessage("new"), alice[3]);
        Assert.Equal(0, limiter.Queued("alice"));
    }
}

using System.Collections.Concurrent;
using Appliance.WeCom.Api;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Appliance.Tests.WeCom;

public sealed class MemberRateLimiterTests
{
    [Fact]
    public async Task Submit_OverLimit_QueuedThenMergedWhenWindowOpensNothingLost()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
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

    [Fact]
    public async Task Submit_QueuedTextsOverWeComsTextLimit_SplitIntoMessagesOf2048BytesAndTheRestWaitsNothingLost()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var delivered = new ConcurrentQueue<WeComMessage>();
        using var limiter = new MemberRateLimiter(2, TimeSpan.FromMinutes(1), clock, (_, m) => { delivered.Enqueue(m); return Task.CompletedTask; }, NullLogger.Instance);

        // Two go out; then sixty alerts of about 70 bytes each (4 200 bytes): more than two 2048-byte texts hold.
        var sends = new List<Task> { limiter.SubmitAsync("alice", new TextMessage("first")), limiter.SubmitAsync("alice", new TextMessage("second")) };
        var alerts = Enumerable.Range(0, 60).Select(i => $"门铃 #{i:00} 有人按门铃，已拍照 Doorbell #{i:00} pressed, snapshot sent").ToList();
        sends.AddRange(alerts.Select(a => limiter.SubmitAsync("alice", new TextMessage(a))));
        Assert.Equal(2, delivered.Count);

        clock.Advance(TimeSpan.FromMinutes(1));
        await WaitForAsync(() => delivered.Count == 4);
        Assert.True(limiter.Queued("alice") > 0, "everything fitted into two texts: the test needs more");
        clock.Advance(TimeSpan.FromMinutes(1));
        await Task.WhenAll(sends).WaitAsync(TimeSpan.FromSeconds(5));

        var texts = delivered.Skip(2).Select(m => Assert.IsType<TextMessage>(m).Content).ToList();
        Assert.True(texts.Count >= 3);
        Assert.All(texts, t => Assert.InRange(System.Text.Encoding.UTF8.GetByteCount(t), 1, TextMessage.MaxBytes));
        Assert.Equal(alerts, texts.SelectMany(t => t.Split("\n\n")));
        Assert.Equal(0, limiter.Queued("alice"));
    }

    [Fact]
    public async Task Submit_TwoWindows_TheFullerOneHoldsMessagesUntilItLetsGo()
    {
        // 2 a minute and 3 an hour (as WeCom's 30 a minute and 1000 an hour, scaled down).
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var delivered = new ConcurrentQueue<WeComMessage>();
        using var limiter = new MemberRateLimiter(
            [(2, TimeSpan.FromMinutes(1)), (3, TimeSpan.FromHours(1))], clock, (_, m) => { delivered.Enqueue(m); return Task.CompletedTask; }, NullLogger.Instance);

        _ = limiter.SubmitAsync("alice", new TextMessage("a"));
        _ = limiter.SubmitAsync("alice", new TextMessage("b"));
        var c = limiter.SubmitAsync("alice", new TextMessage("c"));
        Assert.Equal(2, delivered.Count);
        clock.Advance(TimeSpan.FromMinutes(1));
        await c.WaitAsync(TimeSpan.FromSeconds(5));

        // The minute allows d, the hour does not (a, b, c): it waits until a and b are an hour old.
        var d = limiter.SubmitAsync("alice", new TextMessage("d"));
        Assert.Equal(3, delivered.Count);
        clock.Advance(TimeSpan.FromMinutes(58));
        await Task.Delay(100);
        Assert.False(d.IsCompleted);
        Assert.Equal(1, limiter.Queued("alice"));

        clock.Advance(TimeSpan.FromMinutes(1));
        await d.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(["a", "b", "c", "d"], delivered.Select(m => ((TextMessage)m).Content));
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (var i = 0; i < 100 && !condition(); i++)
        {
            await Task.Delay(20);
        }

        Assert.True(condition());
    }
}

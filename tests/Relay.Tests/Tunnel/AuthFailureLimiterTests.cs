using Relay.Hosting;
using Relay.Tunnel;

namespace Relay.Tests.Tunnel;

/// <summary>The login-attempt limit per (address, name) and its window, on a manual clock.</summary>
public sealed class AuthFailureLimiterTests
{
    private readonly ManualTimeProvider _time = new();
    private readonly AuthFailureLimiter _limiter;

    public AuthFailureLimiterTests() =>
        _limiter = new AuthFailureLimiter(new RelayOptions { MaxAuthFailures = 3, AuthFailureWindow = TimeSpan.FromMinutes(5) }, _time);

    [Fact]
    public void TryBeginAttempt_UpToTheLimit_ThenRefusedForThatAddressAndNameOnly()
    {
        Assert.True(_limiter.TryBeginAttempt("203.0.113.7", "cam", out var last));
        Assert.False(last);
        Assert.True(_limiter.TryBeginAttempt("203.0.113.7", "cam", out last));
        Assert.False(last);
        Assert.False(_limiter.IsBlocked("203.0.113.7", "cam"));

        Assert.True(_limiter.TryBeginAttempt("203.0.113.7", "cam", out last));
        Assert.True(last); // the one that used up the limit: its failure is logged once
        Assert.False(_limiter.TryBeginAttempt("203.0.113.7", "cam", out last));
        Assert.False(last);

        Assert.True(_limiter.IsBlocked("203.0.113.7", "cam"));
        Assert.True(_limiter.TryBeginAttempt("203.0.113.7", "door", out _));
        Assert.True(_limiter.TryBeginAttempt("198.51.100.1", "cam", out _));
    }

    [Fact]
    public void TryBeginAttempt_ManyAtOnce_OnlyTheLimitGetChecked()
    {
        var allowed = 0;
        Parallel.For(0, 200, new ParallelOptions { MaxDegreeOfParallelism = 8 }, attempt =>
        {
            if (_limiter.TryBeginAttempt("203.0.113.7", "cam", out _))
            {
                Interlocked.Increment(ref allowed);
            }
        });

        Assert.Equal(3, allowed);
    }

    [Fact]
    public void IsBlocked_AfterTheWindow_LiftsAndCountsAfresh()
    {
        for (var i = 0; i < 3; i++)
        {
            _limiter.TryBeginAttempt("203.0.113.7", "cam", out _);
        }

        _time.Advance(TimeSpan.FromMinutes(5) - TimeSpan.FromSeconds(1));
        Assert.True(_limiter.IsBlocked("203.0.113.7", "cam"));

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(_limiter.IsBlocked("203.0.113.7", "cam"));
        Assert.True(_limiter.TryBeginAttempt("203.0.113.7", "cam", out var last)); // a new window: one attempt, not four
        Assert.False(last);
        Assert.False(_limiter.IsBlocked("203.0.113.7", "cam"));
    }

    [Fact]
    public void RecordSuccess_ClearsTheCount()
    {
        _limiter.TryBeginAttempt("203.0.113.7", "cam", out _);
        _limiter.TryBeginAttempt("203.0.113.7", "cam", out _);
        _limiter.RecordSuccess("203.0.113.7", "cam");

        Assert.True(_limiter.TryBeginAttempt("203.0.113.7", "cam", out _));
        Assert.True(_limiter.TryBeginAttempt("203.0.113.7", "cam", out var last));
        Assert.False(last);
        Assert.False(_limiter.IsBlocked("203.0.113.7", "cam"));
    }
}

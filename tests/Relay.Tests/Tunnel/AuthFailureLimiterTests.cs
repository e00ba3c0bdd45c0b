using Relay.Hosting;
using Relay.Tunnel;

namespace Relay.Tests.Tunnel;

/// <summary>The failed-login limit per (address, name) and its window, on a manual clock.</summary>
public sealed class AuthFailureLimiterTests
{
    private readonly ManualTime _time = new();
    private readonly AuthFailureLimiter _limiter;

    public AuthFailureLimiterTests() =>
        _limiter = new AuthFailureLimiter(new RelayOptions { MaxAuthFailures = 3, AuthFailureWindow = TimeSpan.FromMinutes(5) }, _time);

    [Fact]
    public void RecordFailure_UpToTheLimit_BlocksThatAddressAndNameOnly()
    {
        Assert.False(_limiter.RecordFailure("203.0.113.7", "cam"));
        Assert.False(_limiter.RecordFailure("203.0.113.7", "cam"));
        Assert.False(_limiter.IsBlocked("203.0.113.7", "cam"));

        Assert.True(_limiter.RecordFailure("203.0.113.7", "cam")); // the one that reached the limit: logged once
        Assert.False(_limiter.RecordFailure("203.0.113.7", "cam"));

        Assert.True(_limiter.IsBlocked("203.0.113.7", "cam"));
        Assert.False(_limiter.IsBlocked("203.0.113.7", "door"));
        Assert.False(_limiter.IsBlocked("198.51.100.1", "cam"));
    }

    [Fact]
    public void IsBlocked_AfterTheWindow_LiftsAndCountsAfresh()
    {
        for (var i = 0; i < 3; i++)
        {
            _limiter.RecordFailure("203.0.113.7", "cam");
        }

        _time.Advance(TimeSpan.FromMinutes(5) - TimeSpan.FromSeconds(1));
        Assert.True(_limiter.IsBlocked("203.0.113.7", "cam"));

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(_limiter.IsBlocked("203.0.113.7", "cam"));
        Assert.False(_limiter.RecordFailure("203.0.113.7", "cam")); // a new window: one failure, not four
        Assert.False(_limiter.IsBlocked("203.0.113.7", "cam"));
    }

    [Fact]
    public void RecordSuccess_ClearsTheCount()
    {
        _limiter.RecordFailure("203.0.113.7", "cam");
        _limiter.RecordFailure("203.0.113.7", "cam");
        _limiter.RecordSuccess("203.0.113.7", "cam");

        Assert.False(_limiter.RecordFailure("203.0.113.7", "cam"));
        Assert.False(_limiter.RecordFailure("203.0.113.7", "cam"));
        Assert.False(_limiter.IsBlocked("203.0.113.7", "cam"));
    }

    private sealed class ManualTime : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 12, 2, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}

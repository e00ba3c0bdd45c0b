using Relay.Hosting;
using Relay.Tunnel;
using Microsoft.Extensions.Time.Testing;

namespace Relay.Tests.Tunnel;

/// <summary>The login-attempt limit per (address, name) and its window, on a manual clock.</summary>
public sealed class AuthFailureLimiterTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly AuthFailureLimiter _limiter;

    public AuthFailureLimiterTests() =>
        _limiter = new AuthFailureLimiter(new RelayOptions { MaxAuthFailures = 3, AuthFailureWindow = TimeSpan.FromMinutes(5), MaxAuthChecksPerSecond = 1000 }, _time);

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

    [Fact]
    public void TryBeginAttempt_TableFull_RefusesNewKeysAndNeverForgetsABlockedOne()
    {
        // Before: a full table dropped its oldest entry, so single guesses from thousands of addresses gave a blocked
        // address fresh attempts.
        for (var i = 0; i < 3; i++)
        {
            _limiter.TryBeginAttempt("203.0.113.7", "cam", out _);
        }

        var refused = 0;
        for (var i = 0; i < AuthFailureLimiter.MaxTracked + 100; i++)
        {
            refused += _limiter.TryBeginAttempt($"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", "cam", out _) ? 0 : 1;
        }

        Assert.Equal(AuthFailureLimiter.MaxTracked, _limiter.Tracked);
        Assert.Equal(101, refused);
        Assert.True(_limiter.IsBlocked("203.0.113.7", "cam"));

        // Once their window has passed, old entries make room.
        _time.Advance(TimeSpan.FromMinutes(5));
        Assert.True(_limiter.TryBeginAttempt("198.51.100.1", "cam", out _));
        Assert.Equal(1, _limiter.Tracked);
    }

    [Fact]
    public void TryBeginAttempt_Ceiling_SlowsRepeatGuessesFromManyAddresses()
    {
        var limiter = new AuthFailureLimiter(new RelayOptions { MaxAuthFailures = 10, MaxAuthChecksPerSecond = 2 }, _time);
        var checkedGuesses = 0;
        for (var round = 0; round < 10; round++)
        {
            for (var a = 1; a <= 20; a++)
            {
                checkedGuesses += limiter.TryBeginAttempt($"192.0.2.{a}", "cam", out _) ? 1 : 0;
            }
        }

        Assert.Equal(20, checkedGuesses); // each address's first try only: the ceiling went to them
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(2, Enumerable.Range(1, 20).Count(a => limiter.TryBeginAttempt($"192.0.2.{a}", "cam", out _)));
    }

    [Fact]
    public void TryBeginAttempt_Ipv6_CountsPerSlash64()
    {
        for (var i = 1; i <= 3; i++)
        {
            Assert.True(_limiter.TryBeginAttempt($"2001:db8:1:2::{i:x}", "cam", out _));
        }

        Assert.False(_limiter.TryBeginAttempt("2001:db8:1:2:ffff::9", "cam", out _));
        Assert.True(_limiter.IsBlocked("2001:db8:1:2::77", "cam"));
        Assert.True(_limiter.TryBeginAttempt("2001:db8:1:3::1", "cam", out _));
        Assert.True(_limiter.TryBeginAttempt("::ffff:203.0.113.7", "cam", out _));
        Assert.True(_limiter.TryBeginAttempt("203.0.113.7", "cam", out _));
        Assert.True(_limiter.TryBeginAttempt("203.0.113.7", "cam", out var last));
        Assert.True(last); // the mapped and the plain IPv4 address are one client
    }
}

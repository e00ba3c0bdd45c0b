using System.Collections.Concurrent;
using Appliance.WeCom.Api;
using Microsoft.Extensions.Logging.Abstractions;
using Appliance.Tests.Infrastructure;

namespace Appliance.Tests.WeCom;

/// <summary>Expiry, refresh-ahead, retries and invalidation of the token cache, on a manual clock with a scripted source.</summary>
public sealed class AccessTokenCacheTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 2, 8, 0, 0, TimeSpan.Zero);
    private readonly TimerCountingTimeProvider _clock;
    private readonly ScriptedSource _source;

    public AccessTokenCacheTests()
    {
        _clock = new TimerCountingTimeProvider(Start);
        _source = new ScriptedSource { Clock = _clock };
    }

    private AccessTokenCache Create() => new(_source, null, _clock, NullLogger.Instance, refreshAhead: TimeSpan.FromMinutes(5));

    [Fact]
    public async Task Get_NearExpiry_CurrentTokenAtOnceAndANewOneFetchedInTheBackground()
    {
        var cache = Create();
        Assert.Equal("t1", await cache.GetAsync(CancellationToken.None));

        _clock.Advance(TimeSpan.FromSeconds(7200) - TimeSpan.FromMinutes(5) - TimeSpan.FromSeconds(1));
        Assert.Equal("t1", await cache.GetAsync(CancellationToken.None));
        Assert.Equal(1, _source.Fetches);

        // Within the refresh-ahead margin: the still-valid token now, the next one fetched meanwhile.
        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal("t1", await cache.GetAsync(CancellationToken.None));
        await WaitForAsync(() => cache.ExpiresAt > Start.AddSeconds(7200));
        Assert.Equal("t2", await cache.GetAsync(CancellationToken.None));
        Assert.Equal(2, _source.Fetches);
    }

    [Fact]
    public async Task Get_AfterExpiry_WaitsForANewTokenInsteadOfTheExpiredOne()
    {
        var cache = Create();
        Assert.Equal("t1", await cache.GetAsync(CancellationToken.None));

        _clock.Advance(TimeSpan.FromSeconds(7200));
        Assert.Equal("t2", await cache.GetAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Get_PassingFailures_RetriedAfterTheBackoffOnTheInjectedClock()
    {
        _source.Failures.Enqueue(new AccessTokenException("busy", -1, transient: true));
        _source.Failures.Enqueue(new AccessTokenException("no answer", 0, transient: true));
        var cache = Create();

        var get = cache.GetAsync(CancellationToken.None);
        await WaitForAsync(() => _clock.PendingTimers == 1);
        _clock.Advance(TimeSpan.FromMilliseconds(499));
        await Task.Delay(100);
        Assert.Equal(1, _source.Fetches);

        _clock.Advance(TimeSpan.FromMilliseconds(1));
        await WaitForAsync(() => _source.Fetches == 2 && _clock.PendingTimers == 1);
        _clock.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal("t1", await get.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(3, _source.Fetches);
    }

    [Fact]
    public async Task Get_LastingFailure_NotRetried()
    {
        _source.Failures.Enqueue(new AccessTokenException("gettoken answered 40001: invalid credential", 40001, transient: false));
        var cache = Create();

        var error = await Assert.ThrowsAsync<AccessTokenException>(() => cache.GetAsync(CancellationToken.None));

        Assert.Equal(40001, error.ErrCode);
        Assert.Equal(1, _source.Fetches);
        Assert.Equal(0, _clock.PendingTimers);
    }

    [Fact]
    public async Task Invalidate_AnOlderToken_KeepsTheCurrentOne()
    {
        var cache = Create();
        Assert.Equal("t1", await cache.GetAsync(CancellationToken.None));
        cache.Invalidate("t1");
        Assert.Equal("t2", await cache.GetAsync(CancellationToken.None));

        // A late 40014 for t1 (a request that was in flight) must not throw away t2.
        cache.Invalidate("t1");
        Assert.Equal("t2", await cache.GetAsync(CancellationToken.None));
        Assert.Equal(2, _source.Fetches);
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++)
        {
            await Task.Delay(25);
        }

        Assert.True(condition());
    }

    /// <summary>Hands out t1, t2, … valid for 7200 s from the clock's now, after throwing the queued failures.</summary>
    private sealed class ScriptedSource : AccessTokenSource
    {
        private int _fetches;
        private int _issued;

        public ConcurrentQueue<AccessTokenException> Failures { get; } = new();

        public int Fetches => Volatile.Read(ref _fetches);

        public TimerCountingTimeProvider? Clock { get; set; }

        public override string CacheFileName => "";

        public override string Identity => "test-app";

        public override Task<AccessToken> FetchAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _fetches);
            if (Failures.TryDequeue(out var failure))
            {
                throw failure;
            }

            return Task.FromResult(new AccessToken($"t{Interlocked.Increment(ref _issued)}", Now + TimeSpan.FromSeconds(7200)));
        }

        private DateTimeOffset Now => Clock?.GetUtcNow() ?? throw new InvalidOperationException("no clock");
    }
}

using Microsoft.Extensions.Time.Testing;

namespace Tests.Shared;

/// <summary>
/// Microsoft.Extensions.TimeProvider.Testing's <see cref="FakeTimeProvider"/> that also says how many timers wait to
/// fire, so a test moves the clock only once the code under test waits (FakeTimeProvider keeps that to itself; the
/// timers themselves are FakeTimeProvider's). Starts at 2026-12-02 00:00 UTC unless told otherwise.
/// </summary>
public sealed class TimerCountingTimeProvider(DateTimeOffset start) : FakeTimeProvider(start)
{
    private int _pending;

    public TimerCountingTimeProvider()
        : this(new DateTimeOffset(2026, 12, 2, 0, 0, 0, TimeSpan.Zero))
    {
    }

    /// <summary>Timers created here that are set and have not fired (a periodic one stays counted until disposed).</summary>
    public int PendingTimers => Volatile.Read(ref _pending);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new CountedTimer(this, callback, state);
        timer.Attach(base.CreateTimer(static s => ((CountedTimer)s!).Fire(), timer, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan));
        timer.Change(dueTime, period);
        return timer;
    }

    private sealed class CountedTimer(TimerCountingTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        private readonly Lock _lock = new();
        private ITimer? _inner;
        private bool _pending;
        private bool _periodic;
        private long _generation;
        private long _firedGeneration;

        public void Attach(ITimer inner) => _inner = inner;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            long generation;
            lock (_lock)
            {
                generation = ++_generation;
                _periodic = period != Timeout.InfiniteTimeSpan && period != TimeSpan.Zero;
                if (dueTime == Timeout.InfiniteTimeSpan)
                {
                    SetPending(false);
                }
            }

            // Counted once FakeTimeProvider holds the due time, not before: a test that sees the count moves the clock,
            // and a move between the two was lost to this timer, which then fired a step late. A zero due time fires
            // inside this call (as FakeTimeProvider does), a move on another thread may fire it too: then not counted.
            var changed = _inner!.Change(dueTime, period);
            lock (_lock)
            {
                if (dueTime != Timeout.InfiniteTimeSpan && generation == _generation && (_periodic || _firedGeneration != generation))
                {
                    SetPending(true);
                }
            }

            return changed;
        }

        public void Fire()
        {
            lock (_lock)
            {
                _firedGeneration = _generation;
                if (!_periodic)
                {
                    SetPending(false);
                }
            }

            callback(state);
        }

        public void Dispose()
        {
            lock (_lock)
            {
                SetPending(false);
            }

            _inner?.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }

        private void SetPending(bool pending)
        {
            if (pending != _pending)
            {
                _pending = pending;
                Interlocked.Add(ref owner._pending, pending ? 1 : -1);
            }
        }
    }
}

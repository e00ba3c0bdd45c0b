using System.Collections.Concurrent;
using Appliance.WeCom.Api;
using Appliance.WeCom.Commands;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Appliance.Tests.WeCom;

/// <summary>Keeps every log line (all levels) so tests can assert what was, and was not, logged.</summary>
public sealed class CapturingLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<string> Lines { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    public void Install(WebApplicationBuilder builder)
    {
        builder.Logging.AddProvider(this);
        builder.Logging.SetMinimumLevel(LogLevel.Trace);
        builder.Logging.AddFilter((_, _) => true);
    }

    private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {exception}");
    }
}

/// <summary>A command that counts its runs and takes as long as told, for dedupe and budget tests.</summary>
public sealed class CountingCommand : IWeComCommand
{
    private int _runs;

    public int Runs => Volatile.Read(ref _runs);

    public TimeSpan Duration { get; set; }

    public IReadOnlyList<string> Names { get; } = ["计数", "count"];

    public string Help => "count — test";

    public WeComCommandAccess Access => WeComCommandAccess.Family;

    public async Task<WeComMessage?> ExecuteAsync(WeComCommandContext context, CancellationToken cancellationToken)
    {
        var run = Interlocked.Increment(ref _runs);
        await Task.Delay(Duration, cancellationToken);
        return new TextMessage($"run {run} {context.Arguments}");
    }

    public static Action<WebApplicationBuilder> Register(CountingCommand command) =>
        builder => builder.Services.AddSingleton<IWeComCommand>(command);
}

/// <summary>A clock tests move by hand (timers fire when their time is passed).</summary>
public sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private readonly List<ManualTimer> _timers = [];
    private DateTimeOffset _now = start;
    private long _ticks;

    public override DateTimeOffset GetUtcNow()
    {
        lock (_timers)
        {
            return _now;
        }
    }

    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    /// <summary>Timers waiting to fire (so a test can move the clock only once the code under test is waiting).</summary>
    public int PendingTimers
    {
        get
        {
            lock (_timers)
            {
                return _timers.Count;
            }
        }
    }

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public void Advance(TimeSpan by)
    {
        List<ManualTimer> due;
        lock (_timers)
        {
            _now += by;
            Interlocked.Add(ref _ticks, by.Ticks);
            due = _timers.Where(t => t.DueAt <= _now).ToList();
            foreach (var t in due)
            {
                _timers.Remove(t);
            }
        }

        foreach (var timer in due)
        {
            timer.Fire();
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    private sealed class ManualTimer(ManualTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        public DateTimeOffset DueAt { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner._timers)
            {
                owner._timers.Remove(this);
                if (dueTime != Timeout.InfiniteTimeSpan)
                {
                    DueAt = owner._now + dueTime;
                    owner._timers.Add(this);
                }
            }

            if (dueTime == TimeSpan.Zero)
            {
                owner.Advance(TimeSpan.Zero);
            }

            return true;
        }

        public void Fire() => callback(state);

        public void Dispose()
        {
            lock (owner._timers)
            {
                owner._timers.Remove(this);
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}

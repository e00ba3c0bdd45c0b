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

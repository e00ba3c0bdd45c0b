using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Tests.Shared;

/// <summary>
/// Collects the log lines a host writes, after the host's own level filters (a test passes the shipped
/// appsettings.json levels, so it sees what an operator's journal would): for tests that count lines.
/// </summary>
public sealed class LogLines : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    /// <summary>"Level Category: message", in the order written.</summary>
    public IReadOnlyList<string> All => [.. _lines];

    /// <summary>Lines written from the <paramref name="mark"/>th on (a count taken earlier with <see cref="All"/>).</summary>
    public IReadOnlyList<string> Since(int mark) => [.. _lines.Skip(mark)];

    public ILogger CreateLogger(string categoryName) => new Logger(_lines, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(ConcurrentQueue<string> lines, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)}");
    }
}

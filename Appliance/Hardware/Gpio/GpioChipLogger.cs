using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Hardware.Gpio;

/// <summary>
/// The GPIO chip is opened while the host is being built (so a busy line is a start-up error), before there is a
/// logger factory; its warnings (dropped events, failed handlers) go through this, which <c>MapHardware</c> points at
/// the app's logging once the host exists.
/// </summary>
internal sealed class GpioChipLogger : ILogger
{
    public ILogger Inner { get; set; } = NullLogger.Instance;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => Inner.BeginScope(state);

    public bool IsEnabled(LogLevel logLevel) => Inner.IsEnabled(logLevel);

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Inner.Log(logLevel, eventId, state, exception, formatter);
}

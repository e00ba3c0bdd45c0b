using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Appliance.Hosting;

/// <summary>
/// A bound on connections open at once, on every endpoint Kestrel listens on: past it a new connection is closed at
/// once, before any request is read, and one line a minute is logged with a count of those held back.
/// </summary>
/// <remarks>
/// Kestrel's own <c>Limits.MaxConcurrentConnections</c> does the same but logs a warning per refused connection, which
/// a flood turns into a flood of log lines; this is a connection middleware with a counter instead. Shared by the
/// appliance and the relay (Appliance.Shared).
/// </remarks>
internal sealed partial class ConnectionCeiling(int max, ILogger logger, TimeProvider time)
{
    private readonly Auth.LogThrottle _refusedLog = new(time, TimeSpan.FromMinutes(1));
    private int _open;

    /// <summary>Connections open now.</summary>
    public int Open => Volatile.Read(ref _open);

    /// <summary>Counts every connection of <paramref name="kestrel"/>'s endpoints against <paramref name="max"/> (0: no bound).</summary>
    public static void Apply(KestrelServerOptions kestrel, int max)
    {
        if (max <= 0)
        {
            return;
        }

        ConnectionCeiling? ceiling = null;
        kestrel.ConfigureEndpointDefaults(listen => listen.Use(next =>
        {
            ceiling ??= new ConnectionCeiling(
                max,
                listen.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger<ConnectionCeiling>(),
                listen.ApplicationServices.GetService<TimeProvider>() ?? TimeProvider.System);
            var shared = ceiling;
            return connection => shared.OnConnectionAsync(connection, next);
        }));
    }

    private async Task OnConnectionAsync(Microsoft.AspNetCore.Connections.ConnectionContext connection, Microsoft.AspNetCore.Connections.ConnectionDelegate next)
    {
        if (Interlocked.Increment(ref _open) > max)
        {
            Interlocked.Decrement(ref _open);
            if (_refusedLog.TryPass(out var heldBack))
            {
                LogRefused(logger, connection.RemoteEndPoint?.ToString() ?? "?", max, heldBack);
            }

            connection.Abort();
            return;
        }

        try
        {
            await next(connection);
        }
        finally
        {
            Interlocked.Decrement(ref _open);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Connection from {Remote} closed: {Max} connections are open, the most this server keeps ({HeldBack} more not logged since the last line)")]
    private static partial void LogRefused(ILogger logger, string remote, int max, int heldBack);
}

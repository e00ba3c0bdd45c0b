using System.Text;
using Camera;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Appliance.Hosting.Systemd;

/// <summary>
/// Talks to systemd while the appliance runs: READY=1 once Kestrel listens and the camera has produced a frame,
/// a STATUS= line a person reads in <c>systemctl status</c>, WATCHDOG=1 at half of WATCHDOG_USEC while every
/// <see cref="IWatchdogHealth"/> is healthy, and STOPPING=1 when shutdown begins.
/// </summary>
internal sealed partial class SystemdNotifyService(
    SystemdNotifier notifier,
    SystemdEnvironment environment,
    SystemdOptions options,
    FrameHub hub,
    CaptureService capture,
    IEnumerable<IWatchdogHealth> checks,
    IHostApplicationLifetime lifetime,
    IServer server,
    TimeProvider time,
    ILogger<SystemdNotifyService> logger) : BackgroundService
{
    /// <summary>How often readiness is re-checked before READY=1, so it is reported promptly.</summary>
    private static readonly TimeSpan ReadinessPoll = TimeSpan.FromMilliseconds(100);

    private readonly IWatchdogHealth[] _checks = [.. checks];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var started = false;
        using var onStarted = lifetime.ApplicationStarted.Register(() => Volatile.Write(ref started, true));
        using var onStopping = lifetime.ApplicationStopping.Register(() => notifier.Send("STOPPING=1\nSTATUS=Stopping"));

        var pingInterval = environment.WatchdogTimeout / 2;
        var tick = pingInterval ?? options.StatusInterval;
        var ready = false;
        var wasHealthy = true;
        long? lastPing = null;
        string? lastStatus = null;
        var message = new StringBuilder();
        while (!stoppingToken.IsCancellationRequested)
        {
            message.Clear();
            var problems = _checks.Select(c => c.Problem()).OfType<string>().ToArray();
            if (!ready && Volatile.Read(ref started) && hub.FramesPublished > 0)
            {
                ready = true;
                message.Append("READY=1\n");
                LogReady(logger);
            }

            if (pingInterval is { } interval && problems.Length == 0 &&
                (lastPing is null || time.GetElapsedTime(lastPing.Value) >= interval - ReadinessPoll))
            {
                message.Append("WATCHDOG=1\n");
                lastPing = time.GetTimestamp();
            }

            if (problems.Length > 0 && wasHealthy)
            {
                LogUnhealthy(logger, string.Join("; ", problems));
            }
            else if (problems.Length == 0 && !wasHealthy)
            {
                LogHealthyAgain(logger);
            }

            wasHealthy = problems.Length == 0;
            var status = problems.Length > 0 ? "Unhealthy: " + string.Join("; ", problems) : ready ? Serving() : Starting(started);
            if (status != lastStatus)
            {
                message.Append(SystemdNotifier.StatusLine(status));
                lastStatus = status;
            }

            if (message.Length > 0 && !notifier.Send(message.ToString().TrimEnd('\n')))
            {
                LogSendFailed(logger, notifier.SocketPath);
            }

            try
            {
                await Task.Delay(ready ? tick : Min(tick, ReadinessPoll), time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private string Starting(bool started)
    {
        if (!started)
        {
            return "Starting the web server";
        }

        var status = capture.Status;
        return status.Problem is { } problem
            ? $"Waiting for the camera's first frame: {problem}"
            : $"Waiting for the camera's first frame ({status.State.ToString().ToLowerInvariant()})";
    }

    private string Serving()
    {
        var status = capture.Status;
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses is { Count: > 0 } a ? string.Join(' ', a) : "?";
        var viewers = hub.Viewers;
        return status.Problem is { } problem
            ? $"Serving {addresses}; camera {status.State.ToString().ToLowerInvariant()}: {problem}"
            : $"Serving {addresses}; camera {status.Source} {status.Width}x{status.Height} {status.State.ToString().ToLowerInvariant()}; {viewers} viewer{(viewers == 1 ? "" : "s")}";
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    [LoggerMessage(Level = LogLevel.Information, Message = "Told systemd the appliance is ready")]
    private static partial void LogReady(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Not feeding the systemd watchdog: {Problems}")]
    private static partial void LogUnhealthy(ILogger logger, string problems);

    [LoggerMessage(Level = LogLevel.Information, Message = "Healthy again; feeding the systemd watchdog")]
    private static partial void LogHealthyAgain(ILogger logger);

    [LoggerMessage(Level = LogLevel.Debug, Message = "systemd's notify socket {Socket} refused a message")]
    private static partial void LogSendFailed(ILogger logger, string socket);
}

using Appliance.Hosting.Systemd;

namespace Relay.Hosting;

/// <summary>
/// Under systemd: journald-format logs, READY=1 once Kestrel listens, WATCHDOG=1 at half of WATCHDOG_USEC while
/// the host's timers run, STOPPING=1 on shutdown. The protocol and the set-up are the appliance's (Appliance.Shared).
/// </summary>
internal static class RelaySystemd
{
    public static WebApplicationBuilder AddSystemd(this WebApplicationBuilder builder)
    {
        builder.AddSystemd<RelayNotifyService>();
        return builder;
    }
}

internal sealed class RelayNotifyService(SystemdNotifier notifier, SystemdEnvironment environment, IHostApplicationLifetime lifetime)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var onStarted = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        using var onStopping = lifetime.ApplicationStopping.Register(() => notifier.Send("STOPPING=1\nSTATUS=Stopping"));
        try
        {
            await started.Task.WaitAsync(stoppingToken).ConfigureAwait(false);
            notifier.Send("READY=1\nSTATUS=Serving");
            if (environment.WatchdogTimeout is not { } timeout)
            {
                // Stay until shutdown: returning would dispose the ApplicationStopping registration above, and a unit
                // without WatchdogSec would never hear STOPPING=1.
                await Task.Delay(Timeout.Infinite, stoppingToken).ConfigureAwait(false);
                return;
            }

            using var timer = new PeriodicTimer(timeout / 2);
            do
            {
                notifier.Send("WATCHDOG=1");
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
        }
    }
}

using Appliance.Hosting.Systemd;
using Camera;
using Camera.Jpeg;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Appliance.Capture;

/// <summary>The camera feature: settings, the frame hub, the capture service and its sources.</summary>
public static class CaptureExtensions
{
    public static WebApplicationBuilder AddCapture(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.BindOptions<CameraOptions>(CameraOptions.SectionName, static (s, o) => s.Bind(o), o => o.Validate());
        if (TurboJpeg.Probe() is { } problem)
        {
            builder.AddConfigurationError(problem);
        }

        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(sp => new FrameHub(sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddSingleton(sp => new CaptureService(
            sp.GetRequiredService<CameraOptions>(),
            sp.GetRequiredService<FrameHub>(),
            BuiltInSources.Create(sp.GetRequiredService<ILoggerFactory>(), sp.GetRequiredService<TimeProvider>())
                .Concat(sp.GetServices<FrameSourceFactory>()),
            sp.GetRequiredService<ILogger<CaptureService>>(),
            sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddHostedService<CaptureHostedService>();
        builder.Services.AddSingleton<SnapshotService>();

        // The systemd watchdog is fed only while the capture loop goes round (Systemd:CaptureStallLimit).
        builder.Services.AddSingleton<IWatchdogHealth, CaptureWatchdogHealth>();
        return builder;
    }
}

/// <summary>Starts capture with the host and stops it (closing the device) on shutdown.</summary>
internal sealed class CaptureHostedService(CaptureService capture) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        capture.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        capture.Stop(TimeSpan.FromSeconds(3));
        return Task.CompletedTask;
    }
}

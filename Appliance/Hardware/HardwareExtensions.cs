using Appliance.Hardware.Gpio;
using Appliance.Hardware.Sensors;
using Appliance.Status;
using Camera;
using Camera.V4l2;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Appliance.Hardware;

/// <summary>The hardware feature: the V4L2 camera source, named GPIO pins and the configured sensors.</summary>
public static class HardwareExtensions
{
    public static WebApplicationBuilder AddHardware(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);

        // V4L2 is the first choice of Camera:Source=auto (rpicam is 20, synthetic 100).
        builder.Services.AddSingleton(sp => new FrameSourceFactory("v4l2", 10, o => new V4l2Source(
            o, sp.GetRequiredService<ILoggerFactory>().CreateLogger<V4l2Source>())));

        var gpioOptions = builder.BindOptions<GpioOptions>(GpioOptions.SectionName, static (s, o) => s.Bind(o), o => o.Validate());

        // The chip is opened now, before there is a logger factory; MapHardware connects its logger to the app's.
        var chipLogger = new GpioChipLogger();
        builder.Services.AddSingleton(chipLogger);
        ApplianceGpioDriver OpenConfiguredChip(string chip) => OpenChip(chip, chipLogger);
        if (gpioOptions.Validate().Count == 0 && builder.IsInspectionOnly())
        {
            // The doctor: check the chip and that every line exists, but take none (the service holds them).
            foreach (var error in GpioLines.Check(gpioOptions, OpenConfiguredChip))
            {
                builder.AddConfigurationError(error);
            }

            builder.Services.AddSingleton(_ => GpioLines.Open(new GpioOptions(), OpenConfiguredChip, out List<string> _));
        }
        else if (gpioOptions.Validate().Count == 0)
        {
            // Lines are requested now, so an unknown or busy line is a start-up error (exit 78) naming the pin.
            var lines = GpioLines.Open(gpioOptions, OpenConfiguredChip, out var errors);
            foreach (var error in errors)
            {
                builder.AddConfigurationError(error);
            }

            builder.Services.AddSingleton(_ => lines);
        }
        else
        {
            builder.Services.AddSingleton(_ => GpioLines.Open(new GpioOptions(), OpenConfiguredChip, out List<string> _));
        }

        // Presses reach the family through WeCom (which logs instead while WeCom is not configured), and WeCom's
        // on/off/pulse commands switch these pins.
        builder.Services.AddSingleton<IMotionAlertSink, WeComMotionAlertSink>();
        // Replaces WeCom's "no outputs" default on purpose, whichever feature is added first.
        builder.Services.Replace(ServiceDescriptor.Singleton<Appliance.WeCom.Commands.IOutputSwitch, GpioOutputSwitch>());
        builder.Services.AddSingleton<GpioService>();
        builder.Services.AddSingleton<IGpioService>(sp => sp.GetRequiredService<GpioService>());
        builder.Services.AddHostedService(sp => sp.GetRequiredService<GpioService>());
        builder.Services.AddSingleton<IStatusContributor, GpioStatusContributor>();

        // Sensors:NAME:Type = Bme280, Sht3x, … (Iot.Device.Bindings), read on one thread; ISensorReadings for other features.
        builder.BindOptions<SensorsOptions>(SensorsOptions.SectionName, static (s, o) => s.Bind(o.Sensors), o => o.Validate());
        builder.Services.AddSingleton<SensorMonitor>();
        builder.Services.AddSingleton<ISensorReadings>(sp => sp.GetRequiredService<SensorMonitor>());
        builder.Services.AddHostedService(sp => sp.GetRequiredService<SensorMonitor>());
        builder.Services.AddSingleton<IStatusContributor>(sp => sp.GetRequiredService<SensorMonitor>());
        return builder;
    }

    public static WebApplication MapHardware(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        GpioEndpoints.Map(app);
        app.Services.GetRequiredService<GpioChipLogger>().Inner = app.Services.GetRequiredService<ILogger<CharacterDeviceGpioDriver>>();
        return app;
    }

    private static ApplianceGpioDriver OpenChip(string chip, GpioChipLogger logger) =>
        chip == GpioOptions.Simulated ? new SimulatedGpioDriver() : CharacterDeviceGpioDriver.Open(chip, logger);
}

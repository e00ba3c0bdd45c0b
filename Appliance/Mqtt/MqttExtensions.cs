using System.Text.Json.Nodes;
using Appliance.Doctor;
using Appliance.Mqtt.Adapters;
using Appliance.Status;
using Camera.Motion;

namespace Appliance.Mqtt;

/// <summary>The MQTT feature: Home Assistant discovery, states, commands and snapshots through a broker (off without Mqtt:Host).</summary>
public static class MqttExtensions
{
    public static WebApplicationBuilder AddMqtt(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.BindOptions<MqttOptions>(MqttOptions.SectionName, static (s, o) => s.Bind(o), o => o.Validate());
        options.ApplyDefaults(Environment.MachineName, builder.Configuration["Urls"]);
        // (A value that is not a bool is reported by the Motion section's own binding.)
        options.CameraMotion = options.Enabled && bool.TryParse(builder.Configuration[$"{MotionOptions.SectionName}:{nameof(MotionOptions.Enabled)}"], out var motion) && motion;
        if (options.CameraMotion && builder.Configuration.GetSection("Gpio:Pins").GetChildren()
            .FirstOrDefault(p => string.Equals(p.Key, MqttDiscovery.CameraMotionObject, StringComparison.OrdinalIgnoreCase)) is { } clash)
        {
            builder.AddConfigurationError($"Gpio:Pins:{clash.Key}: the name is taken by the camera's motion sensor in Home Assistant while Motion:Enabled and Mqtt:Host are set; rename the pin.");
        }

        builder.Services.AddSingleton<IDoctorCheck>(_ => new MqttDoctorCheck(options));
        if (!options.Enabled || builder.IsInspectionOnly())
        {
            return builder;
        }

        // The adapters are the only code that knows the GPIO service and the status document.
        builder.Services.AddSingleton<IMqttHardware>(sp => new GpioServiceAdapter(sp.GetRequiredService<Hardware.Gpio.GpioService>()));
        builder.Services.AddSingleton<IMqttReadings, StatusReadings>();
        builder.Services.AddSingleton<MqttBridge>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<MqttBridge>());
        if (options.CameraMotion)
        {
            // The motion analyser (Appliance/Events) tells every listener; the bridge is one.
            builder.Services.AddSingleton<Events.IMotionListener>(sp => sp.GetRequiredService<MqttBridge>());
        }

        builder.Services.AddSingleton<IStatusContributor, MqttStatusContributor>();
        return builder;
    }
}

/// <summary>"mqtt" in /api/status: the broker, whether connected, what waits and what was dropped.</summary>
internal sealed class MqttStatusContributor(MqttOptions options, MqttBridge bridge) : IStatusContributor
{
    public void Contribute(JsonObject status) =>
        status["mqtt"] = new JsonObject
        {
            ["broker"] = $"{options.Host}:{options.EffectivePort}",
            ["tls"] = options.Tls,
            ["connected"] = bridge.IsConnected,
            ["connects"] = bridge.Connects,
            ["queued"] = bridge.Queued,
            ["dropped"] = bridge.Dropped,
        };
}

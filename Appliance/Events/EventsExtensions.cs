using Appliance.Doctor;
using Appliance.Events.Recording;
using Appliance.Hardware.Gpio;
using Appliance.Status;
using Camera.Motion;

namespace Appliance.Events;

/// <summary>
/// The events feature: motion detection from the picture (<c>Motion</c> settings), the events index (SQLite in the
/// state directory's <c>events/</c>) fed by motion and by PIR/button presses, and the timeline API.
/// </summary>
public static class EventsExtensions
{
    private static readonly Lazy<byte[]> EventsPage = new(() => Appliance.Web.WebPageExtensions.ReadAsset("Web/events.html"));

    public static WebApplicationBuilder AddEvents(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var motion = builder.BindOptions<MotionOptions>(MotionOptions.SectionName, static (s, o) => s.Bind(o), o => o.Validate());
        builder.Services.AddSingleton(sp => new EventStore(sp.GetRequiredService<StateDirectory>().File(Path.Combine("events", "events.db"))));

        // Armed or not (Events:Armed, Events:ArmedHours, 布防/撤防 in WeCom): motion alerts while armed.
        builder.BindOptions<ArmingOptions>(ArmingOptions.SectionName, static (s, o) => s.Bind(o), o => o.Validate());
        builder.Services.AddSingleton<ArmingState>();
        builder.Services.AddSingleton<IStatusContributor>(sp => sp.GetRequiredService<ArmingState>());
        builder.Services.AddSingleton<Appliance.WeCom.Commands.IWeComCommand>(sp => new ArmCommand(sp.GetRequiredService<ArmingState>(), arm: true));
        builder.Services.AddSingleton<Appliance.WeCom.Commands.IWeComCommand>(sp => new ArmCommand(sp.GetRequiredService<ArmingState>(), arm: false));

        builder.Services.AddSingleton<Appliance.WeCom.Commands.IWeComCommand, EventsCommand>();

        // Switches, camera lost/back, tunnel down/up and WeCom commands reach the index through this one recorder.
        builder.Services.AddSingleton<IEventRecorder, IndexEventRecorder>();
        builder.Services.AddSingleton<CameraEventWatcher>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<CameraEventWatcher>());

        var recording = builder.BindOptions<RecordingOptions>(RecordingOptions.SectionName, static (s, o) => s.Bind(o), o => o.Validate());
        builder.Services.AddSingleton<ClipFiles>();
        builder.Services.AddSingleton<IDoctorCheck>(_ => new RecordingDoctorCheck(builder.Configuration, recording));
        if (motion.Enabled || PressesConfigured(builder.Configuration.GetSection("Gpio:Pins")))
        {
            // Recording runs only with an event source: the pre-roll ring, the clip writer, retention.
            builder.Services.AddSingleton<ClipRecorder>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<ClipRecorder>());
            builder.Services.AddSingleton<IStatusContributor>(sp => sp.GetRequiredService<ClipRecorder>());
        }

        if (motion.Enabled)
        {
            // Off costs nothing: no analyser, no decoder, capture keeps Camera:IdleFps.
            builder.Services.AddSingleton<MotionService>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<MotionService>());
            builder.Services.AddSingleton<IStatusContributor>(sp => sp.GetRequiredService<MotionService>());
            builder.Services.AddSingleton<IMotionListener, MotionEventRecorder>();
            builder.Services.AddSingleton<MotionAlerter>();
            builder.Services.AddSingleton<IMotionListener>(sp => sp.GetRequiredService<MotionAlerter>());
        }

        // Presses reach the index through the sink the hardware feature registered, wrapped rather than replaced.
        var pressSink = builder.Services.LastOrDefault(d => d.ServiceType == typeof(IMotionAlertSink));
        if (pressSink is not null)
        {
            builder.Services.Remove(pressSink);
            builder.Services.AddSingleton<IMotionAlertSink>(sp => new PressEventRecorder(
                Create<IMotionAlertSink>(pressSink, sp), sp.GetRequiredService<EventStore>(), sp.GetRequiredService<ArmingState>(),
                sp.GetRequiredService<ILogger<PressEventRecorder>>(),
                sp.GetService<ClipRecorder>()));
        }

        return builder;
    }

    public static WebApplication MapEvents(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);

        // The timeline page: for whoever may watch the stream (the API it calls has the same rule).
        app.MapGet("/events", (HttpContext context) =>
        {
            context.Response.Headers.CacheControl = "no-cache";
            return Results.Bytes(EventsPage.Value, "text/html; charset=utf-8");
        }).RequireAuthorization(Appliance.Auth.WebPolicies.Viewer);
        return app.MapEventsApi().MapClipsApi();
    }

    /// <summary>A pin with <c>OnPress</c> (PIR, doorbell): its presses are events with clips.</summary>
    private static bool PressesConfigured(IConfigurationSection pins) =>
        pins.GetChildren().Any(pin =>
            pin["OnPress"] is { Length: > 0 } action && !action.Equals(nameof(GpioPressAction.None), StringComparison.OrdinalIgnoreCase));

    private static T Create<T>(ServiceDescriptor descriptor, IServiceProvider services)
        where T : class =>
        (T)(descriptor.ImplementationInstance
            ?? descriptor.ImplementationFactory?.Invoke(services)
            ?? ActivatorUtilities.CreateInstance(services, descriptor.ImplementationType!));
}

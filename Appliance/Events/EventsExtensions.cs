using Appliance.Status;
using Camera.Motion;

namespace Appliance.Events;

/// <summary>The events feature: motion detection from the picture (<c>Motion</c> settings).</summary>
public static class EventsExtensions
{
    public static WebApplicationBuilder AddEvents(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var motion = builder.BindOptions<MotionOptions>(MotionOptions.SectionName, static (s, o) => s.Bind(o), o => o.Validate());
        if (motion.Enabled)
        {
            // Off costs nothing: no analyser, no decoder, capture keeps Camera:IdleFps.
            builder.Services.AddSingleton<MotionService>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<MotionService>());
            builder.Services.AddSingleton<IStatusContributor>(sp => sp.GetRequiredService<MotionService>());
        }

        return builder;
    }
}

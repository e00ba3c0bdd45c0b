using Appliance.Auth;
using Appliance.Status;
using Appliance.WeCom.Alerts;
using Appliance.WeCom.Api;
using Appliance.WeCom.Callback;
using Appliance.WeCom.Commands;
using Appliance.WeCom.Crypto;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Appliance.WeCom;

/// <summary>The WeCom feature: callback endpoint, API client, commands and alerts.</summary>
public static class WeComExtensions
{
    public static WebApplicationBuilder AddWeCom(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.BindOptions<WeComOptions>(WeComOptions.SectionName, static (s, o) => s.Bind(o), o => o.Validate());
        var services = builder.Services;
        services.TryAddSingleton(TimeProvider.System);

        // Defaults other features replace on purpose (ServiceCollection.Replace), whichever is added first: the
        // tunnel's egress (calls from the relay's address), the hardware's outputs (GPIO pins).
        services.TryAddSingleton<IWeComEgress, DirectEgress>();
        services.TryAddSingleton<IOutputSwitch, NoOutputSwitch>();
        services.AddSingleton<WeComMetrics>();
        services.AddSingleton(sp => new WeComCrypto(options.Token, options.EncodingAesKey, options.CorpId));
        services.AddSingleton<WeComHttp>();
        services.AddSingleton<WeComTokenSource>();
        services.AddSingleton(sp => new AccessTokenCache(
            sp.GetRequiredService<WeComTokenSource>(), sp.GetService<StateDirectory>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("Appliance.WeCom.AccessToken")));
        services.AddSingleton<WeComApiClient>();
        services.AddSingleton<WeComMessenger>();
        services.AddSingleton(sp => new RunJournal(
            sp.GetService<StateDirectory>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<RunJournal>>()));
        services.AddSingleton<MessageDispatcher>();
        services.AddSingleton<CallbackEndpoint>();
        services.AddSingleton<WeComCommandRegistry>();
        services.AddSingleton<IAlertNotifier, WeComAlerts>();
        services.AddSingleton<IStatusContributor, WeComStatusContributor>();

        // Built-in commands, in help order. Other features add theirs the same way.
        services.AddSingleton<IWeComCommand, PhotoCommand>();
        services.AddSingleton<IWeComCommand, VideoCommand>();
        services.AddSingleton<IWeComCommand, LiveCommand>();
        services.AddSingleton<IWeComCommand>(sp => new OutputCommand(sp.GetRequiredService<IOutputSwitch>(), OutputAction.On));
        services.AddSingleton<IWeComCommand>(sp => new OutputCommand(sp.GetRequiredService<IOutputSwitch>(), OutputAction.Off));
        services.AddSingleton<IWeComCommand>(sp => new OutputCommand(sp.GetRequiredService<IOutputSwitch>(), OutputAction.Pulse));
        services.AddSingleton<IWeComCommand, StatusCommand>();
        services.AddSingleton<IWeComCommand, HelpCommand>();
        return builder;
    }

    public static WebApplication MapWeCom(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var options = app.Services.GetRequiredService<WeComOptions>();
        RequestDelegate handler = options.IsConfigured
            ? app.Services.GetRequiredService<CallbackEndpoint>().HandleAsync
            : static context =>
            {
                // Not configured: as if the endpoint did not exist.
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            };

        // The callback authenticates itself by its signature; the web login does not apply.
        app.MapMethods(CallbackEndpoint.Path, [HttpMethods.Get, HttpMethods.Post], handler).AllowAnonymous();
        return app;
    }
}

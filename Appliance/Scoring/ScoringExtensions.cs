using System.Text.Json.Nodes;
using Appliance.Auth;
using Appliance.Status;
using Appliance.WeCom.Api;
using Appliance.WeCom.Commands;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Appliance.Scoring;

/// <summary>The speech-scoring proxy: POST /api/ratings and the 练习/practice WeCom command.</summary>
public static class ScoringExtensions
{
    public static WebApplicationBuilder AddScoring(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.BindOptions<ScoringOptions>(ScoringOptions.SectionName, static (s, o) => s.Bind(o), o => o.Validate());
        var services = builder.Services;
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IWeComEgress, DirectEgress>();
        services.AddSingleton<WeChatHttp>();
        services.AddSingleton<OfficialAccountTokenSource>();
        services.AddSingleton(sp => new OfficialAccountTokens(new AccessTokenCache(
            sp.GetRequiredService<OfficialAccountTokenSource>(), sp.GetService<StateDirectory>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("Appliance.Scoring.AccessToken"))));
        services.AddSingleton<RatingService>();
        services.AddSingleton<RatingsEndpoint>();
        services.AddSingleton<PracticeSessions>();
        services.AddSingleton<IWeComCommand, PracticeCommand>();
        services.AddSingleton<IWeComVoiceHandler, PracticeVoiceHandler>();
        services.AddSingleton<IStatusContributor, ScoringStatusContributor>();
        return builder;
    }

    public static WebApplication MapScoring(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var options = app.Services.GetRequiredService<ScoringOptions>();
        var endpoint = app.MapPost(RatingsEndpoint.Path, app.Services.GetRequiredService<RatingsEndpoint>().HandleAsync);

        // Admins (login, Basic, loopback) by default, like the rest of the API; view-link holders only when allowed.
        if (options.AllowViewers)
        {
            endpoint.RequireAuthorization(WebPolicies.Viewer);
        }
        else
        {
            endpoint.RequireAuthorization(WebPolicies.Admin);
        }

        return app;
    }
}

/// <summary>"scoring" in /api/status: configured, in flight, done, failed, refused as busy.</summary>
internal sealed class ScoringStatusContributor(ScoringOptions options, RatingService ratings) : IStatusContributor
{
    public void Contribute(JsonObject status)
    {
        ArgumentNullException.ThrowIfNull(status);
        status["scoring"] = new JsonObject
        {
            ["configured"] = options.IsConfigured,
            ["mediaSource"] = options.MediaSource == ScoringMediaSource.WeCom ? "wecom" : "official",
            ["signsMeta"] = options.Signs,
            ["inFlight"] = ratings.InFlight,
            ["completed"] = ratings.Completed,
            ["failed"] = ratings.Failed,
            ["busy"] = ratings.Busy,
        };
    }
}

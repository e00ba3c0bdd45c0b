using System.Text.Json;
using System.Text.Json.Nodes;
using Appliance.Auth;
using Appliance.Streaming;
using Camera;

namespace Appliance.Status;

/// <summary>The status feature: <c>/api/status</c> (JSON) and <c>/healthz</c> (200 while frames flow).</summary>
public static class StatusExtensions
{
    public static WebApplicationBuilder AddStatus(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddSingleton<StatusReport>();
        return builder;
    }

    public static WebApplication MapStatus(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        // A view link may have been forwarded to anyone: only admins see where the other viewers connect from.
        app.MapGet("/api/status", (HttpContext context, StatusReport report) =>
            Results.Text(
                report.Build(includeViewerAddresses: context.GetWebPrincipal()?.Role == WebRole.Admin).ToJsonString(JsonOptions),
                "application/json; charset=utf-8")).RequireAuthorization(WebPolicies.Viewer);
        app.MapGet("/healthz", (StatusReport report) =>
        {
            var problem = report.HealthProblem();
            return problem is null
                ? Results.Text("ok\n", "text/plain")
                : Results.Text($"unhealthy: {problem}\n", "text/plain", statusCode: StatusCodes.Status503ServiceUnavailable);
        }).AllowAnonymous();
        return app;
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };
}

/// <summary>Builds the status document from the capture service, the viewers and every feature's contributor.</summary>
public sealed class StatusReport(
    CaptureService capture, FrameHub hub, ViewerTracker viewers, CameraOptions options, TimeProvider time,
    IEnumerable<IStatusContributor> contributors)
{
    private readonly DateTimeOffset _started = time.GetUtcNow();

    public TimeSpan Uptime => time.GetUtcNow() - _started;

    /// <summary>The document; each viewer's "remote" address only when <paramref name="includeViewerAddresses"/>.</summary>
    public JsonObject Build(bool includeViewerAddresses)
    {
        var status = capture.Status;
        var now = time.GetUtcNow();
        var viewerList = new JsonArray();
        var throughRelay = 0;
        foreach (var viewer in viewers.Snapshot().OrderBy(v => v.Id))
        {
            var seconds = Math.Max(0.001, (now - viewer.Since).TotalSeconds);
            var entry = new JsonObject
            {
                ["id"] = viewer.Id,
                ["seconds"] = Math.Round(seconds, 1),
                ["framesSent"] = viewer.FramesSent,
                ["framesDropped"] = viewer.FramesDropped(hub.FramesPublished),
                ["fps"] = Math.Round(viewer.FramesSent / seconds, 1),
                ["fpsCap"] = viewer.FpsCap,
            };
            if (viewer.Until is { } until)
            {
                entry["until"] = until.ToString("O", System.Globalization.CultureInfo.InvariantCulture);
            }

            if (viewer.RelayAudience is { } audience)
            {
                entry["relayViewers"] = audience;
                throughRelay += audience;
            }

            if (includeViewerAddresses)
            {
                entry["remote"] = viewer.Remote;
            }

            viewerList.Add((JsonNode)entry);
        }

        var skipped = new JsonArray();
        foreach (var s in status.Skipped)
        {
            skipped.Add((JsonNode)new JsonObject { ["source"] = s.Name, ["reason"] = s.Reason });
        }

        var document = new JsonObject
        {
            ["state"] = status.State.ToString().ToLowerInvariant(),
            ["source"] = status.Source,
            ["description"] = status.Description,
            ["problem"] = status.Problem,
            ["skippedSources"] = skipped,
            ["resolution"] = status.Width > 0 ? $"{status.Width}x{status.Height}" : null,
            ["width"] = status.Width,
            ["height"] = status.Height,
            ["configuredFps"] = options.Fps,
            ["deliveredFps"] = status.DeliveredFps,
            ["framesPublished"] = hub.FramesPublished,
            ["lastFrameAgeSeconds"] = hub.LastPublishedAt is { } at ? Math.Round((now - at).TotalSeconds, 3) : null,
            ["viewers"] = viewers.Audience,
            ["viewersThroughRelay"] = throughRelay,
            ["viewerDetails"] = viewerList,
            ["uptimeSeconds"] = Math.Round(Uptime.TotalSeconds),
            ["version"] = ProductVersion.Current,
        };
        foreach (var contributor in contributors)
        {
            contributor.Contribute(document, includeViewerAddresses);
        }

        return document;
    }

    /// <summary>Null while frames flow; otherwise why not.</summary>
    public string? HealthProblem()
    {
        var status = capture.Status;
        if (status.State is CaptureState.Unavailable or CaptureState.Stopped)
        {
            return status.Problem ?? $"camera {status.State.ToString().ToLowerInvariant()}";
        }

        if (hub.LastPublishedAt is not { } last)
        {
            return "no frame yet";
        }

        // Idle capture runs at IdleFps (or pauses when 0): allow for the slower pace.
        var fps = hub.Viewers > 0 || options.IdleFps == 0 ? options.Fps : Math.Min(options.Fps, options.IdleFps);
        var allowed = TimeSpan.FromSeconds(Math.Max(3.0, 3.0 / fps));
        if (options.IdleFps == 0 && hub.Viewers == 0)
        {
            return null;
        }

        var age = time.GetUtcNow() - last;
        return age <= allowed ? null : $"last frame {age.TotalSeconds:0.0} s ago";
    }
}

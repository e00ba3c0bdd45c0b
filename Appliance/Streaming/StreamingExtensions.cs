using System.Globalization;
using Appliance.Auth;
using Appliance.Capture;
using Camera;

namespace Appliance.Streaming;

/// <summary>The live-view feature: <c>/stream</c> (MJPEG) and <c>/snapshot</c> (one fresh JPEG).</summary>
public static class StreamingExtensions
{
    /// <summary>What Kestrel's socket transport buffers per connection before a write waits.</summary>
    internal const int SocketWriteBufferBytes = 4 * MjpegStreamWriter.SliceLength;

    public static WebApplicationBuilder AddStreaming(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddSingleton<ViewerTracker>();
        builder.Services.AddSingleton(sp =>
        {
            var web = sp.GetRequiredService<WebAuthOptions>();
            return new StreamLimiter(web.MaxStreamsPerClient, web.MaxStreamsPerLink, web.MaxStreams,
                sp.GetRequiredService<ILoggerFactory>().CreateLogger<StreamLimiter>(), sp.GetRequiredService<TimeProvider>());
        });
        builder.WebHost.ConfigureKestrel(kestrel =>
            Hosting.ConnectionCeiling.Apply(kestrel, kestrel.ApplicationServices.GetRequiredService<WebAuthOptions>().MaxConnections));

        // Small per-connection output buffers: with the stream's sliced writes, a viewer never holds more than a few
        // slices in the server, and a stalled one stops being written to at once. For HTTP/1.1 on sockets the
        // transport's write buffer is the one that counts (64 KiB by default: 75 KB of pool blocks per busy viewer
        // with camera-sized frames); two slices cost fps at 200 viewers, four do not.
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxResponseBufferSize = 2 * MjpegStreamWriter.SliceLength);
        builder.WebHost.UseSockets(sockets => sockets.MaxWriteBufferSize = SocketWriteBufferBytes);
        return builder;
    }

    public static WebApplication MapStreaming(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGet("/stream", StreamAsync).RequireAuthorization(WebPolicies.Viewer);
        app.MapGet("/snapshot", SnapshotAsync).RequireAuthorization(WebPolicies.Viewer);
        return app;
    }

    /// <summary>Longest delay a timer takes (about 49 days); a link lasting longer is cut at this.</summary>
    private static readonly TimeSpan MaxTimerDelay = TimeSpan.FromDays(45);

    /// <summary>For the relay's shared stream, how many watch through it (1 until it says).</summary>
    private static int? RelayAudience(HttpContext context) =>
        !context.IsRelayOwnRequest() ? null
        : int.TryParse(context.Request.Headers[TunnelProtocol.TunnelHandshake.ViewersHeader].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var count)
            ? count
            : 1;

    private static async Task StreamAsync(
        HttpContext context, FrameHub hub, ViewerTracker viewers, StreamLimiter limiter, SignedTokens tokens, TimeProvider time, IHostApplicationLifetime lifetime)
    {
        int? fpsCap = null;
        if (context.Request.Query.TryGetValue("fps", out var fpsText))
        {
            if (!int.TryParse(fpsText, NumberStyles.None, CultureInfo.InvariantCulture, out var fps) || fps < 1 || fps > 120)
            {
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                await context.Response.WriteAsync("fps must be a whole number from 1 to 120.\n");
                return;
            }

            fpsCap = fps;
        }

        // The relay's shared stream stands for all its viewers, whom the relay limits itself.
        IDisposable? clientPlace = null;
        IDisposable? linkPlace = null;
        if (!context.IsRelayOwnRequest())
        {
            var client = GuessLimiter.AddressKey(context.Connection.RemoteIpAddress);
            clientPlace = limiter.TryAddClient(client, out var refusal);
            if (clientPlace is not null && context.GetWebPrincipal() is { Method: "link" } && LinkOf(context, tokens) is { Length: > 0 } link)
            {
                linkPlace = limiter.TryAddLink(link, client, out refusal);
            }

            if (refusal != StreamRefusal.None)
            {
                clientPlace?.Dispose();
                await StreamLimiter.WriteRefusalAsync(context, refusal);
                return;
            }
        }

        using var heldPlace = clientPlace;
        using var heldLinkPlace = linkPlace;
        var response = context.Response;
        response.ContentType = MjpegStreamWriter.ContentType;
        response.Headers.CacheControl = "no-cache, no-store, must-revalidate";
        response.Headers.Pragma = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no"; // nginx: do not buffer the stream

        // Shutdown waits for open requests: without ApplicationStopping, one viewer would hold a restart for the
        // whole host timeout (and systemd's TimeoutStopSec would end it with SIGKILL). The response simply ends.
        // A view link's access ends when the link does, for a stream opened just before as well (the page stops by
        // itself; other clients would watch on for good).
        var until = context.GetWebPrincipal()?.Until;
        using var linkExpiry = until is { } end
            ? new CancellationTokenSource(TimeSpan.FromTicks(Math.Clamp((end - time.GetUtcNow()).Ticks, 0, MaxTimerDelay.Ticks)), time)
            : null;
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(
            context.RequestAborted, lifetime.ApplicationStopping, linkExpiry?.Token ?? CancellationToken.None);
        var token = stopping.Token;
        var writer = response.BodyWriter;
        using var registration = hub.RegisterViewer();
        using var viewer = viewers.Add(context.Connection.RemoteIpAddress?.ToString() ?? "?", time, fpsCap, until, RelayAudience(context));
        var minInterval = fpsCap is { } cap ? TimeSpan.FromSeconds(1.0 / cap) : TimeSpan.Zero;
        long lastSequence = 0;
        long? lastSent = null;
        try
        {
            MjpegStreamWriter.WriteFirstBoundary(writer);
            while (!token.IsCancellationRequested)
            {
                if (lastSent is { } sent && minInterval > TimeSpan.Zero)
                {
                    // The cap counts from when the previous frame went out: the first frame goes at once, and each
                    // later one (the second too) at least an interval after the one before.
                    var wait = minInterval - time.GetElapsedTime(sent);
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait, time, token);
                    }
                }

                var frame = await hub.NextAsync(lastSequence, token);
                lastSent = time.GetTimestamp();
                bool open;
                try
                {
                    lastSequence = frame.Sequence;
                    viewer.Sent(frame.Sequence);
                    open = await MjpegStreamWriter.WritePartAsync(writer, frame, token);
                }
                finally
                {
                    // A viewer that stops reading keeps at most this one frame.
                    frame.Release();
                }

                if (!open)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The viewer went away.
        }
    }

    /// <summary>The signed view link this request is admitted with: a valid <c>?t=</c>, else the cookie it left (as the Link scheme decides).</summary>
    private static string LinkOf(HttpContext context, SignedTokens tokens) =>
        context.Request.Query[LinkSigner.QueryParameter].ToString() is { Length: > 0 } query
            && tokens.Check(query, SignedTokens.LinkKind, out _, out _) == TokenCheck.Valid
            ? query
            : context.Request.Cookies[SessionAuthenticationHandler.LinkCookieName] ?? "";

    private static async Task SnapshotAsync(HttpContext context, SnapshotService snapshots, CaptureService capture)
    {
        var frame = await snapshots.GetFreshAsync(context.RequestAborted);
        if (frame is null)
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            context.Response.Headers.RetryAfter = "5";
            await context.Response.WriteAsync("The camera has not produced a frame; see /api/status.\n");
            return;
        }

        try
        {
            var response = context.Response;
            response.ContentType = "image/jpeg";
            response.ContentLength = frame.Length;
            response.Headers.CacheControl = "no-cache, no-store, must-revalidate";
            if (capture.Status.State == CaptureState.Unavailable)
            {
                // The picture is the "no camera" placeholder; say so to programs that cannot look at it.
                response.Headers["X-Camera-State"] = "unavailable";
            }

            response.Headers["X-Timestamp"] = (frame.CapturedAt.ToUnixTimeMilliseconds() / 1000.0).ToString("0.000", CultureInfo.InvariantCulture);
            await response.Body.WriteAsync(frame.Jpeg, context.RequestAborted);
        }
        finally
        {
            frame.Release();
        }
    }
}

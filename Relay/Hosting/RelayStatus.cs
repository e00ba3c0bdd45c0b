using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Relay.Streaming;
using Relay.Tunnel;
using Relay.WeCom;

namespace Relay.Hosting;

/// <summary>
/// <c>/status</c>: every appliance, its connection age, ping RTT, viewers and bytes each way (HTTP Basic,
/// Relay:AdminPassword). Wrong passwords count per address like tunnel logins (Relay:MaxAuthFailures in
/// Relay:AuthFailureWindow); past that the address gets 429 without a check until the window ends, so parallel guesses
/// gain nothing from the one-second delay being per request.
/// </summary>
internal sealed partial class RelayStatus(
    RelayOptions options, TunnelRegistry registry, StreamFanOuts fanOuts, CallbackRelay callbacks, AuthFailureLimiter limiter,
    ClientAddress addresses, TimeProvider time, ILogger<RelayStatus> logger)
{
    /// <summary>The limiter's name for /status logins; no appliance name can take this spelling.</summary>
    internal const string LimiterName = "(status)";

    // One line a minute at most for what strangers can repeat at will, from as many addresses as they have.
    private readonly Appliance.Auth.LogThrottle _refusedLog = new(time, TimeSpan.FromMinutes(1));
    private readonly Appliance.Auth.LogThrottle _blockedLog = new(time, TimeSpan.FromMinutes(1));

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public async Task HandleAsync(HttpContext context)
    {
        if (options.AdminPassword.Length == 0)
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            await context.Response.WriteAsync("Set Relay:AdminPassword to see /status.\n");
            return;
        }

        var authorization = context.Request.Headers.Authorization.ToString();
        if (authorization.Length == 0)
        {
            Challenge(context); // a browser's first request: nothing guessed, nothing counted
            return;
        }

        var remote = addresses.Of(context);
        if (!limiter.TryBeginAttempt(remote, LimiterName, out var last))
        {
            context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            context.Response.Headers.RetryAfter = ((int)Math.Ceiling(options.AuthFailureWindow.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            await context.Response.WriteAsync($"Too many wrong passwords from this address; try again in {Math.Ceiling(options.AuthFailureWindow.TotalMinutes):0} min.\n");
            return;
        }

        if (!Authorized(authorization))
        {
            if (_refusedLog.TryPass(out var heldBack))
            {
                LogRefused(logger, remote, heldBack);
            }

            if (last && _blockedLog.TryPass(out var blockedHeldBack))
            {
                LogNowBlocked(logger, remote, options.MaxAuthFailures, options.AuthFailureWindow.TotalMinutes, blockedHeldBack);
            }

            await Task.Delay(TimeSpan.FromSeconds(1), time, context.RequestAborted);
            Challenge(context);
            return;
        }

        limiter.RecordSuccess(remote, LimiterName);

        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        await context.Response.WriteAsync(Build().ToJsonString(Indented));
    }

    private static void Challenge(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = "Basic realm=\"Relay\", charset=\"UTF-8\"";
    }

    public JsonObject Build()
    {
        var now = time.GetUtcNow();
        var list = new JsonArray();
        foreach (var name in options.Appliances.Keys.Order(StringComparer.Ordinal))
        {
            var session = registry.Get(name);
            var hub = fanOuts.Existing(name);
            list.Add((JsonNode)new JsonObject
            {
                ["name"] = name,
                ["online"] = session is not null,
                ["remote"] = session?.Remote,
                ["connectedSeconds"] = session is null ? null : Math.Round((now - session.ConnectedAt).TotalSeconds),
                ["pingRttMs"] = session?.RoundTripMilliseconds,
                ["bytesFromAppliance"] = session?.Counter.BytesRead,
                ["bytesToAppliance"] = session?.Counter.BytesWritten,
                ["viewers"] = hub?.Viewers ?? 0,
                ["streamUpstreamOpen"] = hub?.UpstreamOpen ?? false,
                ["framesRelayed"] = hub?.FramesReceived ?? 0,
                ["queuedCallbacks"] = callbacks.Pending(name),
            });
        }

        return new JsonObject { ["appliances"] = list, ["time"] = now.ToString("O", System.Globalization.CultureInfo.InvariantCulture) };
    }

    private bool Authorized(string header)
    {
        if (!AuthenticationHeaderValue.TryParse(header, out var parsed) || !"Basic".Equals(parsed.Scheme, StringComparison.OrdinalIgnoreCase) || parsed.Parameter is null)
        {
            return false;
        }

        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(parsed.Parameter));
        }
        catch (FormatException)
        {
            return false;
        }

        var expected = SHA256.HashData(Encoding.UTF8.GetBytes(options.AdminUser + ":" + options.AdminPassword));
        return CryptographicOperations.FixedTimeEquals(expected, SHA256.HashData(Encoding.UTF8.GetBytes(decoded)));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "/status login refused from {Remote} ({HeldBack} more refusals since the last such line)")]
    private static partial void LogRefused(ILogger logger, string remote, int heldBack);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "/status logins from {Remote} failed {Count} times; refusing them unchecked for {Minutes} min ({HeldBack} more addresses since the last such line)")]
    private static partial void LogNowBlocked(ILogger logger, string remote, int count, double minutes, int heldBack);
}

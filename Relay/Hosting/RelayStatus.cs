using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Relay.Streaming;
using Relay.Tunnel;
using Relay.WeCom;

namespace Relay.Hosting;

/// <summary><c>/status</c>: every appliance, its connection age, ping RTT, viewers and bytes each way (HTTP Basic, Relay:AdminPassword).</summary>
internal sealed class RelayStatus(RelayOptions options, TunnelRegistry registry, StreamFanOuts fanOuts, CallbackRelay callbacks, TimeProvider time)
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public async Task HandleAsync(HttpContext context)
    {
        if (options.AdminPassword.Length == 0)
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            await context.Response.WriteAsync("Set Relay:AdminPassword to see /status.\n");
            return;
        }

        if (!Authorized(context.Request.Headers.Authorization.ToString()))
        {
            await Task.Delay(TimeSpan.FromSeconds(1), time, context.RequestAborted);
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.Headers.WWWAuthenticate = "Basic realm=\"Relay\", charset=\"UTF-8\"";
            return;
        }

        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        await context.Response.WriteAsync(Build().ToJsonString(Indented));
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
}

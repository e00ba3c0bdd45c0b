using System.Text.Json.Nodes;
using Appliance.Auth;
using Appliance.Status;

namespace Appliance.Hardware.Gpio;

/// <summary><c>GET /api/gpio</c> (pins and recent events) and <c>POST /api/gpio/NAME</c> with on, off, toggle or pulse (admins).</summary>
internal static class GpioEndpoints
{
    public static void Map(WebApplication app)
    {
        // Anyone who may watch sees the pins; only admins get the switches (canSwitch), which POST still enforces.
        app.MapGet("/api/gpio", (HttpContext context, IGpioService gpio) =>
        {
            var admin = context.GetWebPrincipal()?.Role == WebRole.Admin;
            var document = Document(gpio, admin);
            document["canSwitch"] = admin;
            return Json(document);
        }).RequireAuthorization(WebPolicies.Viewer);
        app.MapPost("/api/gpio/{name}", async (string name, HttpContext context, IGpioService gpio) =>
        {
            var command = await ReadCommandAsync(context);
            if (command is null)
            {
                return Results.Text("Say what to do: ?action=on|off|toggle|pulse (or the same as the request body).\n", "text/plain", statusCode: 400);
            }

            var principal = context.GetWebPrincipal();
            var who = $"{principal?.Name ?? "unknown"} ({principal?.Method ?? "?"}, {context.Connection.RemoteIpAddress})";
            try
            {
                return Json(PinJson(gpio.Switch(name, command.Value, who), forAdmin: true));
            }
            catch (KeyNotFoundException ex)
            {
                return Results.Text(ex.Message + "\n", "text/plain", statusCode: 404);
            }
            catch (InvalidOperationException ex)
            {
                return Results.Text(ex.Message + "\n", "text/plain", statusCode: 409);
            }
            catch (GpioException ex)
            {
                return Results.Text(ex.Message + "\n", "text/plain", statusCode: 503);
            }
        }).RequireAuthorization(WebPolicies.Admin);
    }

    private static async Task<GpioCommand?> ReadCommandAsync(HttpContext context)
    {
        string? text = context.Request.Query["action"];
        if (string.IsNullOrEmpty(text) && context.Request.ContentLength is > 0 and < 64)
        {
            using var reader = new StreamReader(context.Request.Body);
            text = (await reader.ReadToEndAsync(context.RequestAborted)).Trim();
        }

        return text?.ToLowerInvariant() switch
        {
            "on" => GpioCommand.On,
            "off" => GpioCommand.Off,
            "toggle" => GpioCommand.Toggle,
            "pulse" => GpioCommand.Pulse,
            _ => null,
        };
    }

    /// <summary>Pins and recent events; <paramref name="forAdmin"/> false leaves the switcher's address out of changedBy.</summary>
    internal static JsonObject Document(IGpioService gpio, bool forAdmin)
    {
        var pins = new JsonArray();
        foreach (var pin in gpio.GetPins())
        {
            pins.Add((JsonNode)PinJson(pin, forAdmin));
        }

        var events = new JsonArray();
        foreach (var e in gpio.RecentEvents)
        {
            events.Add((JsonNode)new JsonObject
            {
                ["pin"] = e.Pin,
                ["at"] = e.At.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
                ["pressed"] = e.Pressed,
                ["action"] = e.Action.ToString(),
                ["outcome"] = e.Outcome,
            });
        }

        return new JsonObject { ["pins"] = pins, ["events"] = events };
    }

    private static JsonObject PinJson(GpioPinState pin, bool forAdmin) => new()
    {
        ["name"] = pin.Name,
        ["line"] = pin.Line,
        ["mode"] = pin.Mode.ToString(),
        ["on"] = pin.On,
        ["activeLow"] = pin.ActiveLow,
        ["changedAt"] = pin.ChangedAt?.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        // "family (form, 203.0.113.7)": a view-link holder sees who, not from where.
        ["changedBy"] = forAdmin || pin.ChangedBy is null ? pin.ChangedBy : pin.ChangedBy.Split(" (", 2)[0],
    };

    private static IResult Json(JsonObject document) => Results.Text(document.ToJsonString(), "application/json; charset=utf-8");
}

/// <summary>Adds "gpio" (pins and recent events) to /api/status.</summary>
internal sealed class GpioStatusContributor(IGpioService gpio) : IStatusContributor
{
    public void Contribute(JsonObject status) => Contribute(status, forAdmin: true);

    public void Contribute(JsonObject status, bool forAdmin) => status["gpio"] = GpioEndpoints.Document(gpio, forAdmin);
}

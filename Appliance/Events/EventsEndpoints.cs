using System.Globalization;
using System.Text.Json.Nodes;
using Appliance.Auth;
using Appliance.Events.Recording;

namespace Appliance.Events;

/// <summary><c>GET /api/events</c> (the timeline, for whoever may watch the stream) and <c>DELETE /api/events/{id}</c> (admins).</summary>
internal static class EventsEndpoints
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;

    public static WebApplication MapEventsApi(this WebApplication app)
    {
        app.MapGet("/api/events", (HttpContext context, EventStore store) => List(context, store)).RequireAuthorization(WebPolicies.Viewer);
        app.MapDelete("/api/events/{id}", (string id, EventStore store, ClipFiles files) =>
            !long.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number <= 0
                ? Results.Text($"bad event id '{id}': a positive number\n", "text/plain", statusCode: StatusCodes.Status400BadRequest)
                : Delete(number, store, files))
            .RequireAuthorization(WebPolicies.Admin);
        return app;
    }

    /// <summary>The row first, then its files: a crash in between leaves files no event owns, removed at start-up.</summary>
    private static IResult Delete(long id, EventStore store, ClipFiles files)
    {
        if (!store.Delete(id))
        {
            return Results.Text($"no event {id}\n", "text/plain", statusCode: StatusCodes.Status404NotFound);
        }

        files.DeleteFiles(id);
        return Results.NoContent();
    }

    private static IResult List(HttpContext context, EventStore store)
    {
        var query = context.Request.Query;
        long? before = null;
        if (query.TryGetValue("before", out var beforeText))
        {
            if (!long.TryParse(beforeText.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value <= 0)
            {
                return BadRequest($"before must be an event id, a positive number (got '{beforeText}')");
            }

            before = value;
        }

        var limit = DefaultLimit;
        if (query.TryGetValue("limit", out var limitText)
            && (!int.TryParse(limitText.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MaxLimit))
        {
            return BadRequest($"limit must be a number from 1 to {MaxLimit} (got '{limitText}')");
        }

        string? kind = null;
        if (query.TryGetValue("kind", out var kindText))
        {
            kind = kindText.ToString();
            if (!EventStore.Kinds.Contains(kind))
            {
                return BadRequest($"kind must be one of {string.Join(", ", EventStore.Kinds)} (got '{kind}')");
            }
        }

        var events = new JsonArray();
        var list = store.List(before, limit, kind);
        var clips = store.ClipsOf(list.Select(e => e.Id));
        foreach (var entry in list)
        {
            var (thumbnail, clip) = ClipEndpoints.Links(context, entry.Id, clips.GetValueOrDefault(entry.Id));
            events.Add((JsonNode)new JsonObject
            {
                ["id"] = entry.Id,
                ["kind"] = entry.Kind,
                ["start"] = entry.Start.ToString("O", CultureInfo.InvariantCulture),
                ["end"] = entry.End?.ToString("O", CultureInfo.InvariantCulture),
                ["source"] = entry.Source,
                ["by"] = entry.By,
                ["thumbnail"] = thumbnail,
                ["clip"] = clip,
            });
        }

        // Whether this visitor may delete (the /events page shows its delete buttons to admins only).
        var canDelete = context.GetWebPrincipal()?.Role == WebRole.Admin;
        return Results.Text(new JsonObject { ["events"] = events, ["canDelete"] = canDelete }.ToJsonString(), "application/json; charset=utf-8");
    }

    private static IResult BadRequest(string message) =>
        Results.Text(message + "\n", "text/plain", statusCode: StatusCodes.Status400BadRequest);
}

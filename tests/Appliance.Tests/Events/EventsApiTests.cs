using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Appliance.Events;
using Appliance.Hardware.Gpio;
using Appliance.Tests.Infrastructure;

namespace Appliance.Tests.Events;

/// <summary>The events index (SQLite, WAL) and the timeline API on real Kestrel.</summary>
public sealed class EventsApiTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 7, 8, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("events-store-").FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void Store_AddedEvents_ListNewestFirstPagedByIdAndKindAndSurviveReopening()
    {
        var path = Path.Combine(_dir, "events", "events.db");
        long motion, press, open;
        using (var store = new EventStore(path))
        {
            Assert.Equal("wal", store.JournalMode());
            motion = store.Add("motion", T0, T0.AddSeconds(4), "camera", null);
            press = store.Add("press", T0.AddMinutes(1), T0.AddMinutes(1), "doorbell", null);
            open = store.Add("motion", T0.AddMinutes(2), null, "camera", null);
            store.SetEnd(open, T0.AddMinutes(2).AddSeconds(7));
            Assert.Throws<ArgumentException>(() => store.Add("burglar", T0, null, null, null));
        }

        using var reopened = new EventStore(path);
        Assert.Equal([open, press, motion], reopened.List(null, 10, null).Select(e => e.Id));
        Assert.Equal([press, motion], reopened.List(open, 10, null).Select(e => e.Id));
        Assert.Equal([open], reopened.List(null, 1, null).Select(e => e.Id));
        Assert.Equal([open, motion], reopened.List(null, 10, "motion").Select(e => e.Id));
        var last = reopened.List(null, 1, null)[0];
        Assert.Equal(T0.AddMinutes(2).AddSeconds(7), last.End);
        Assert.Equal("camera", last.Source);
        Assert.True(reopened.Delete(press));
        Assert.False(reopened.Delete(press));
        Assert.Equal([open, motion], reopened.List(null, 10, null).Select(e => e.Id));
    }

    [Fact]
    public async Task Api_ListsTheTimelineNewestFirstWithPagingAndKind()
    {
        await using var server = await ApplianceServer.StartAsync();
        var store = server.GetRequiredService<EventStore>();
        var first = store.Add("press", T0, T0, "doorbell", null);
        var second = store.Add("switch", T0.AddSeconds(5), null, "porch", "wecom:alice");
        var third = store.Add("press", T0.AddSeconds(9), T0.AddSeconds(9), "pir", null);
        using var client = server.CreateClient();

        var all = Events(await client.GetStringAsync("/api/events"));
        Assert.Equal([third, second, first], all.Select(e => (long)e!["id"]!));
        var entry = all[1]!;
        Assert.Equal("switch", (string?)entry["kind"]);
        Assert.Equal("porch", (string?)entry["source"]);
        Assert.Equal("wecom:alice", (string?)entry["by"]);
        Assert.Equal(T0.AddSeconds(5), DateTimeOffset.Parse((string)entry["start"]!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Null(entry["end"]);
        Assert.True(((JsonObject)entry).ContainsKey("thumbnail") && ((JsonObject)entry).ContainsKey("clip"));

        Assert.Equal([second], Events(await client.GetStringAsync($"/api/events?before={third}&limit=1")).Select(e => (long)e!["id"]!));
        Assert.Equal([third, first], Events(await client.GetStringAsync("/api/events?kind=press")).Select(e => (long)e!["id"]!));
    }

    [Theory]
    [InlineData("/api/events?kind=burglar", "kind")]
    [InlineData("/api/events?limit=0", "limit")]
    [InlineData("/api/events?limit=1000", "limit")]
    [InlineData("/api/events?limit=ten", "limit")]
    [InlineData("/api/events?before=-3", "before")]
    public async Task Api_BadQuery_Is400NamingTheParameter(string url, string parameter)
    {
        await using var server = await ApplianceServer.StartAsync();
        using var client = server.CreateClient();
        var response = await client.GetAsync(url);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.StartsWith(parameter, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Api_AccessRules_AsTheStreamForReadingAdminsOnlyForDeleting()
    {
        await using var server = await ApplianceServer.StartAsync("--Web:TrustLoopback=false", "--Web:Password=pw");
        var store = server.GetRequiredService<EventStore>();
        var id = store.Add("press", T0, T0, "doorbell", null);

        using var anonymous = server.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/events")).StatusCode);

        // A view link (what 直播/live hands out) may read the timeline but not delete from it.
        var link = server.GetRequiredService<Appliance.Auth.LinkSigner>().Sign("/api/events", TimeSpan.FromMinutes(5));
        using var viewer = server.CreateClient(cookies: new CookieContainer());
        Assert.Single(Events(await viewer.GetStringAsync(link)));
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.DeleteAsync($"/api/events/{id}")).StatusCode);
        Assert.Single(store.List(null, 10, null));

        using var admin = server.CreateClient();
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("family:pw")));
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.DeleteAsync("/api/events/abc")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/events/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync($"/api/events/{id}")).StatusCode);
        Assert.Empty(store.List(null, 10, null));
    }

    [Fact]
    public async Task Press_OfAPirPin_BecomesAPressEventOnTheTimeline()
    {
        await using var server = await ApplianceServer.StartAsync(
            "--Gpio:Pins:pir:Line=22", "--Gpio:Pins:pir:Mode=Input", "--Gpio:Pins:pir:Edge=Rising", "--Gpio:Pins:pir:OnPress=Alert");
        var chip = (SimulatedGpioDriver)server.GetRequiredService<GpioService>().Lines.Driver;
        using var client = server.CreateClient();

        chip.SetInput(22, physical: true);

        JsonArray events = [];
        for (var i = 0; i < 100 && events.Count == 0; i++)
        {
            await Task.Delay(100);
            events = Events(await client.GetStringAsync("/api/events?kind=press"));
        }

        var press = Assert.Single(events);
        Assert.Equal("pir", (string?)press!["source"]);
    }

    private static JsonArray Events(string json) => JsonNode.Parse(json)!["events"]!.AsArray();
}

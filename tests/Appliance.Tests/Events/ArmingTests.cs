using System.Text.Json.Nodes;
using Appliance.Events;
using Appliance.Hardware.Gpio;
using Appliance.Hosting;
using Appliance.Tests.Infrastructure;
using Appliance.Tests.WeCom;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Appliance.Tests.Events;

/// <summary>Events:Armed, Events:ArmedHours, 布防/撤防 in WeCom, and the motion alert while armed.</summary>
public sealed class ArmingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("arming-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("21:59", false)]
    [InlineData("22:00", true)]
    [InlineData("23:59", true)]
    [InlineData("00:00", true)]
    [InlineData("03:30", true)]
    [InlineData("06:59", true)]
    [InlineData("07:00", false)]
    [InlineData("12:00", false)]
    public void ArmedHours_CrossingMidnight_HoldInTheAppliancesLocalTime(string localTime, bool active)
    {
        // The appliance in China (UTC+8): 22:00 local is 14:00 UTC.
        var shanghai = TimeZoneInfo.CreateCustomTimeZone("UTC+8", TimeSpan.FromHours(8), "UTC+8", "UTC+8");
        var clock = new FakeTimeProvider();
        clock.SetLocalTimeZone(shanghai);
        var local = TimeOnly.Parse(localTime, System.Globalization.CultureInfo.InvariantCulture);
        clock.SetUtcNow(new DateTimeOffset(2026, 12, 7, 0, 0, 0, TimeSpan.FromHours(8)).Add(local.ToTimeSpan()).ToUniversalTime());
        var arming = new ArmingState(new ArmingOptions { ArmedHours = "22:00-07:00" }, new StateDirectory(_dir), clock, NullLogger<ArmingState>.Instance);

        Assert.Equal(active, arming.IsActive);
        arming.Set(false, "test");
        Assert.False(arming.IsActive); // disarmed: never
    }

    [Fact]
    public void ArmedHours_WithinADayAndNone_AsWritten()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 7, 8, 59, 0, TimeSpan.Zero)); // local zone UTC
        var day = new ArmingState(new ArmingOptions { ArmedHours = "9:00-17:30" }, new StateDirectory(_dir), clock, NullLogger<ArmingState>.Instance);
        var always = new ArmingState(new ArmingOptions(), new StateDirectory(_dir), clock, NullLogger<ArmingState>.Instance);
        Assert.False(day.IsActive);
        Assert.True(always.IsActive);
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.True(day.IsActive);
        clock.Advance(TimeSpan.FromHours(8.5));
        Assert.False(day.IsActive);
    }

    [Theory]
    [InlineData("22:00")]
    [InlineData("25:00-07:00")]
    [InlineData("22:00-22:00")]
    [InlineData("ten-seven")]
    public void ArmedHours_NotTwoTimesOfDay_IsAnErrorNamingTheKey(string hours)
    {
        var error = Assert.Single(new ArmingOptions { ArmedHours = hours }.Validate());
        Assert.StartsWith("Events:ArmedHours", error, StringComparison.Ordinal);
        Assert.Contains(hours, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ArmDisarm_InWeCom_AdminsOnly_AnsweredInStatus_AndSurvivesARestart()
    {
        var state = Directory.CreateTempSubdirectory("arming-state-").FullName;
        try
        {
            await using (var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(null, $"--State:Directory={state}")))
            {
                var client = WeComCallbackClient.For(server);
                Assert.True(server.GetRequiredService<ArmingState>().Armed); // Events:Armed defaults to true

                var refused = await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("alice", "撤防", WeComCallbackClient.NextMsgId())));
                Assert.Contains("only admins may use disarm", refused["Content"], StringComparison.Ordinal);
                Assert.True(server.GetRequiredService<ArmingState>().Armed);

                var done = await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("dad", "撤防", WeComCallbackClient.NextMsgId())));
                Assert.Contains("disarmed", done["Content"], StringComparison.Ordinal);
                var status = await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("alice", "状态", WeComCallbackClient.NextMsgId())));
                Assert.Contains("布防 Armed: 否 no", status["Content"], StringComparison.Ordinal);

                using var http = server.CreateClient();
                var timeline = TimelineKindsTests.Events(await http.GetStringAsync("/api/events?kind=wecom"));
                Assert.Equal(["disarm wecom:dad", "disarm:refused wecom:alice"], timeline.Select(e => $"{e!["source"]} {e["by"]}"));
            }

            await using (var restarted = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(null, $"--State:Directory={state}")))
            {
                Assert.False(restarted.GetRequiredService<ArmingState>().Armed);
                var client = WeComCallbackClient.For(restarted);
                var armed = await client.ReadReplyAsync(await client.PostAsync(WeComCallbackClient.TextXml("dad", "arm", WeComCallbackClient.NextMsgId())));
                Assert.Contains("armed", armed["Content"], StringComparison.Ordinal);
                using var http = restarted.CreateClient();
                var status = JsonNode.Parse(await http.GetStringAsync("/api/status"))!["armed"]!;
                Assert.True((bool)status["armed"]!);
                Assert.Equal("wecom:dad", (string?)status["changedBy"]);
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(state, recursive: true);
        }
    }

    [Fact]
    public async Task Motion_WhileArmed_AlertsWithAPhotoThroughWeCom_Disarmed_OnlyRecords()
    {
        await using var api = await FakeWeComServer.StartAsync();

        // Motion on (so the alerter is there) but at a threshold the synthetic picture never reaches: the test starts motion.
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api, "--Motion:Enabled=true", "--Motion:Threshold=0.99", "--WeCom:AlertInterval=00:00:00"));
        var alerter = server.GetRequiredService<MotionAlerter>();
        var arming = server.GetRequiredService<ArmingState>();
        await Task.Delay(500); // a frame in the hub for the photo

        alerter.MotionStarted(DateTimeOffset.UtcNow);
        await alerter.Last;
        Assert.True(await FakeWeComServer.EventuallyAsync(() => api.CallsTo("message/send").Count() >= 4, TimeSpan.FromSeconds(10)),
            "the alert's text and photo did not reach alice and dad");
        Assert.Single(api.CallsTo("media/upload"));
        var sends = api.CallsTo("message/send").Select(FakeWeComServer.Json).ToList();
        Assert.Contains(sends, s => s.GetProperty("msgtype").GetString() == "text" && s.GetProperty("text").GetProperty("content").GetString()!.Contains("Motion at", StringComparison.Ordinal));
        Assert.Equal(2, sends.Count(s => s.GetProperty("msgtype").GetString() == "image"));

        arming.Set(false, "test");
        var before = api.Calls.Count;
        alerter.MotionStarted(DateTimeOffset.UtcNow);
        await alerter.Last;
        await Task.Delay(300);
        Assert.Equal(before, api.Calls.Count);
    }

    [Fact]
    public async Task Press_OfAPir_AlertsOnlyWhileArmed_ADoorbellAlways()
    {
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api, "--WeCom:AlertInterval=00:00:00",
            "--Gpio:Pins:pir:Line=22", "--Gpio:Pins:pir:Mode=Input", "--Gpio:Pins:pir:OnPress=Alert", "--Gpio:Pins:pir:CooldownSeconds=0",
            "--Gpio:Pins:bell:Line=23", "--Gpio:Pins:bell:Mode=Input", "--Gpio:Pins:bell:OnPress=Snapshot", "--Gpio:Pins:bell:CooldownSeconds=0"));
        var chip = (SimulatedGpioDriver)server.GetRequiredService<GpioService>().Lines.Driver;
        var arming = server.GetRequiredService<ArmingState>();
        using var client = server.CreateClient();
        await Task.Delay(500); // a frame in the hub for the photo
        List<string> Texts() => [.. api.CallsTo("message/send").Select(FakeWeComServer.Json)
            .Where(s => s.GetProperty("msgtype").GetString() == "text").Select(s => s.GetProperty("text").GetProperty("content").GetString()!)];
        async Task PressAsync(int line, int pressesBefore)
        {
            chip.SetInput(line, physical: true);
            chip.SetInput(line, physical: false);
            for (var i = 0; i < 100 && Events(await client.GetStringAsync("/api/events?kind=press")).Count == pressesBefore; i++)
            {
                await Task.Delay(100);
            }

            Assert.Equal(pressesBefore + 1, Events(await client.GetStringAsync("/api/events?kind=press")).Count);
        }

        // Disarmed: the PIR's press is on the timeline but alerts nobody; the doorbell still rings through.
        arming.Set(false, "test");
        await PressAsync(22, 0);
        await PressAsync(23, 1);
        Assert.True(await FakeWeComServer.EventuallyAsync(() => Texts().Count(t => t.Contains("bell", StringComparison.Ordinal)) == 2, TimeSpan.FromSeconds(10)),
            "the doorbell's alert did not reach alice and dad while disarmed");
        await Task.Delay(300);
        Assert.DoesNotContain(Texts(), t => t.Contains("pir", StringComparison.Ordinal));

        // Armed: the PIR alerts again.
        arming.Set(true, "test");
        await PressAsync(22, 2);
        Assert.True(await FakeWeComServer.EventuallyAsync(() => Texts().Count(t => t.Contains("pir", StringComparison.Ordinal)) == 2, TimeSpan.FromSeconds(10)),
            "the PIR's alert did not reach alice and dad while armed");
    }

    private static JsonArray Events(string json) => JsonNode.Parse(json)!["events"]!.AsArray();
}

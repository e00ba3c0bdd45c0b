using System.Net;
using System.Text.Json.Nodes;
using Appliance.Hardware.Gpio;
using Appliance.Tests.Infrastructure;
using Appliance.Tests.WeCom;
using Microsoft.Extensions.Logging;

namespace Appliance.Tests.Hardware;

/// <summary>GPIO together with the web page's viewers and WeCom (alerts to the family, commands from admins).</summary>
public sealed class GpioIntegrationTests
{
    [Fact]
    public async Task ChipLogger_AfterStart_WritesToTheAppsLogging()
    {
        // A real chip is opened before the host exists; its warnings (dropped events) must still reach the journal.
        await using var server = await ApplianceServer.StartAsync();

        var chipLogger = server.GetRequiredService<GpioChipLogger>();

        Assert.IsNotType<Microsoft.Extensions.Logging.Abstractions.NullLogger>(chipLogger.Inner);
        Assert.True(chipLogger.IsEnabled(LogLevel.Warning));
    }

    [Fact]
    public async Task Api_ViewerWithLink_SeesPinsButCannotSwitch()
    {
        await using var server = await ApplianceServer.StartAsync("--Web:TrustLoopback=false", "--Web:Password=pw", "--Gpio:Pins:porch-light:Line=17");
        var link = server.GetRequiredService<Appliance.Auth.LinkSigner>().Sign("/api/gpio", TimeSpan.FromMinutes(5));
        var cookies = new CookieContainer();
        using var viewer = server.CreateClient(cookies: cookies);

        var document = JsonNode.Parse(await viewer.GetStringAsync(link))!;
        Assert.False((bool)document["canSwitch"]!);
        Assert.Equal("porch-light", (string?)document["pins"]![0]!["name"]);
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.PostAsync("/api/gpio/porch-light?action=on", null)).StatusCode);
        var chip = (SimulatedGpioDriver)server.GetRequiredService<GpioService>().Lines.Driver;
        Assert.False(chip.PhysicalLevel(17));
    }

    [Fact]
    public async Task Api_Admin_IsToldItCanSwitch()
    {
        await using var server = await ApplianceServer.StartAsync("--Gpio:Pins:porch-light:Line=17");
        using var client = server.CreateClient();
        Assert.True((bool)JsonNode.Parse(await client.GetStringAsync("/api/gpio"))!["canSwitch"]!);
    }

    [Fact]
    public async Task Pir_Press_SendsMotionAlertWithPhotoToTheFamilyThroughWeCom()
    {
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api,
            "--Gpio:Pins:pir:Line=22", "--Gpio:Pins:pir:Mode=Input", "--Gpio:Pins:pir:Edge=Rising", "--Gpio:Pins:pir:OnPress=Alert"));
        var chip = (SimulatedGpioDriver)server.GetRequiredService<GpioService>().Lines.Driver;

        chip.SetInput(22, physical: true);

        Assert.True(await FakeWeComServer.EventuallyAsync(() => api.CallsTo("message/send").Count() >= 2, TimeSpan.FromSeconds(15)),
            string.Join(", ", api.Calls.Select(c => c.Api)));
        var upload = Assert.Single(api.CallsTo("media/upload"));
        Assert.Equal([0xFF, 0xD8], upload.Upload!.Bytes[..2]); // the snapshot, a JPEG
        var sends = api.CallsTo("message/send").Select(FakeWeComServer.Json).ToList();
        Assert.Contains(sends, m => m.GetProperty("msgtype").GetString() == "text" && m.GetProperty("text").GetProperty("content").GetString()!.Contains("pir", StringComparison.Ordinal));
        Assert.Contains(sends, m => m.GetProperty("msgtype").GetString() == "image");
    }
    [Fact]
    public async Task Press_WhileAnEarlierAlertWaitsForTheAlertInterval_IsPhotographedAtOnce()
    {
        // The doorbell's alert waits for WeCom:AlertInterval (the PIR's went out just before); the gate bell pressed
        // meanwhile must be photographed when pressed, not when the doorbell's alert has gone out.
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api,
            "--WeCom:AlertInterval=00:00:20",
            "--Gpio:Pins:pir:Line=22", "--Gpio:Pins:pir:Mode=Input", "--Gpio:Pins:pir:OnPress=Alert",
            "--Gpio:Pins:doorbell:Line=27", "--Gpio:Pins:doorbell:Mode=Input", "--Gpio:Pins:doorbell:OnPress=Snapshot",
            "--Gpio:Pins:gate:Line=5", "--Gpio:Pins:gate:Mode=Input", "--Gpio:Pins:gate:OnPress=Snapshot"));
        var chip = (SimulatedGpioDriver)server.GetRequiredService<GpioService>().Lines.Driver;

        chip.SetInput(22, physical: true);
        Assert.True(await FakeWeComServer.EventuallyAsync(() => api.CallsTo("message/send").Count() >= 4, TimeSpan.FromSeconds(15)),
            string.Join(", ", api.Calls.Select(c => c.Api))); // text and photo to alice and dad
        chip.SetInput(27, physical: true);
        Assert.True(await FakeWeComServer.EventuallyAsync(() => api.CallsTo("media/upload").Count() >= 2, TimeSpan.FromSeconds(10)));
        chip.SetInput(5, physical: true);

        Assert.True(await FakeWeComServer.EventuallyAsync(() => api.CallsTo("media/upload").Count() >= 3, TimeSpan.FromSeconds(5)),
            "the gate's photo waited for the doorbell's alert");
        Assert.Equal(4, api.CallsTo("message/send").Count()); // the doorbell's and the gate's alerts still wait for the interval
    }

    [Fact]
    public async Task Press_ManyAlertsWaitingForWeCom_AtMostMaxAlertsInFlightHoldASnapshot()
    {
        // A chattering PIR with no cooldown while every alert waits for WeCom:AlertInterval: each waiting alert holds
        // its camera frame, so past GpioService.MaxAlertsInFlight a press waits for a slot instead of taking one more.
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api,
            "--WeCom:AlertInterval=00:01:00",
            "--Gpio:Pins:pir:Line=22", "--Gpio:Pins:pir:Mode=Input", "--Gpio:Pins:pir:OnPress=Alert", "--Gpio:Pins:pir:CooldownSeconds=0"));
        var chip = (SimulatedGpioDriver)server.GetRequiredService<GpioService>().Lines.Driver;

        chip.SetInput(22, physical: true); // the first alert goes out at once
        Assert.True(await FakeWeComServer.EventuallyAsync(() => api.CallsTo("message/send").Count() >= 4, TimeSpan.FromSeconds(15)));
        for (var i = 0; i < GpioService.MaxAlertsInFlight + 2; i++)
        {
            chip.SetInput(22, physical: false);
            chip.SetInput(22, physical: true);
            await Task.Delay(100);
        }

        var expected = 1 + GpioService.MaxAlertsInFlight;
        Assert.True(await FakeWeComServer.EventuallyAsync(() => api.CallsTo("media/upload").Count() >= expected, TimeSpan.FromSeconds(10)),
            $"{api.CallsTo("media/upload").Count()} uploads");
        await Task.Delay(1000);
        Assert.Equal(expected, api.CallsTo("media/upload").Count()); // the last two presses wait for a slot
    }
}

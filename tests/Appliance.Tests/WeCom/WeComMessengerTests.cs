using Appliance.Tests.Infrastructure;
using Appliance.WeCom;
using Appliance.WeCom.Api;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Tests.WeCom;

/// <summary>message/send refusals on a manual clock: a passing one is tried again later, a lasting one is not.</summary>
public sealed class WeComMessengerTests
{
    [Fact]
    public async Task Send_FrequencyLimitTwice_TriedAgainAfter30sAnd2MinAndDelivered()
    {
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api));
        var clock = new TimerCountingTimeProvider(DateTimeOffset.UtcNow);
        using var messenger = new WeComMessenger(server.GetRequiredService<WeComApiClient>(), server.GetRequiredService<WeComOptions>(), clock, NullLogger<WeComMessenger>.Instance);
        api.FailNext("message/send", 45009, times: 2);

        var send = messenger.SendAsync("alice", new TextMessage("doorbell at 12:00"));
        await SendsReachAsync(api, 1);
        await WaitingAsync(clock);
        clock.Advance(TimeSpan.FromSeconds(29));
        await Task.Delay(300);
        Assert.Single(api.CallsTo("message/send"));

        clock.Advance(TimeSpan.FromSeconds(1));
        await SendsReachAsync(api, 2);
        await WaitingAsync(clock);
        clock.Advance(TimeSpan.FromMinutes(2));
        await send.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(3, api.CallsTo("message/send").Count());
        Assert.Contains("doorbell at 12:00", System.Text.Encoding.UTF8.GetString(api.CallsTo("message/send").Last().Body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Send_LastingRefusal_NotTriedAgain()
    {
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api));
        var clock = new TimerCountingTimeProvider(DateTimeOffset.UtcNow);
        using var messenger = new WeComMessenger(server.GetRequiredService<WeComApiClient>(), server.GetRequiredService<WeComOptions>(), clock, NullLogger<WeComMessenger>.Instance);
        api.FailNext("message/send", 81013); // not a member of the app's visible range

        await messenger.SendAsync("alice", new TextMessage("hi")).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, clock.PendingTimers);
        clock.Advance(TimeSpan.FromMinutes(15));
        await Task.Delay(300);

        Assert.Single(api.CallsTo("message/send"));
    }

    private static async Task WaitingAsync(TimerCountingTimeProvider clock)
    {
        for (var i = 0; i < 200 && clock.PendingTimers == 0; i++)
        {
            await Task.Delay(25);
        }

        Assert.Equal(1, clock.PendingTimers);
    }

    private static async Task SendsReachAsync(FakeWeComServer api, int count)
    {
        for (var i = 0; i < 200 && api.CallsTo("message/send").Count() < count; i++)
        {
            await Task.Delay(25);
        }

        Assert.Equal(count, api.CallsTo("message/send").Count());
    }
}

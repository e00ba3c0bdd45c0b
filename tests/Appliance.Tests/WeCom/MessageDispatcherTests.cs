using Appliance.Tests.Infrastructure;
using Appliance.WeCom;
using Appliance.WeCom.Api;
using Appliance.WeCom.Callback;
using Appliance.WeCom.Commands;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Tests.WeCom;

/// <summary>The dispatcher's run-once rule on a manual clock, with the real commands and messenger of a running appliance.</summary>
public sealed class MessageDispatcherTests
{
    [Fact]
    public async Task HandleReplay_AlreadyRunAndReplayedAfterTheDedupeWindowButWithinReplayMaxAge_NotRunAgain()
    {
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(
            WeComCallbackClient.Settings(api, "--WeCom:DedupeWindow=00:10:00", "--WeCom:ReplayMaxAge=00:30:00"));
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        var dispatcher = new MessageDispatcher(
            server.GetRequiredService<WeComOptions>(), server.GetRequiredService<WeComCommandRegistry>(), server.GetRequiredService<WeComMessenger>(),
            server.GetRequiredService<WeComMetrics>(), new RunJournal(null, clock, NullLogger<RunJournal>.Instance), clock,
            NullLogger<MessageDispatcher>.Instance, []);
        var sentAt = clock.GetUtcNow();
        var message = new InboundMessage(new Dictionary<string, string>
        {
            ["FromUserName"] = "alice", ["MsgType"] = "text", ["Content"] = "help", ["MsgId"] = WeComCallbackClient.NextMsgId(),
            ["CreateTime"] = sentAt.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture),
        });

        // Run once (the relay answered WeCom for a slow appliance), then the relay's replay arrives 20 minutes later
        // (the tunnel dropped in between): past the 10-minute dedupe window, within the 30-minute replay age.
        await dispatcher.HandleReplayAsync(message, sentAt);
        await ExecutionsReachAsync(dispatcher, 1);
        clock.Advance(TimeSpan.FromMinutes(20));
        await dispatcher.HandleReplayAsync(message, sentAt);
        await Task.Delay(500); // a second run would start at once, on the thread pool
        Assert.Equal(1, dispatcher.Executions);

        // A different message at that time still runs.
        var other = new InboundMessage(new Dictionary<string, string>(message.Fields) { ["MsgId"] = WeComCallbackClient.NextMsgId() });
        await dispatcher.HandleReplayAsync(other, clock.GetUtcNow());
        await ExecutionsReachAsync(dispatcher, 2);
    }

    private static async Task ExecutionsReachAsync(MessageDispatcher dispatcher, long count)
    {
        for (var i = 0; i < 100 && dispatcher.Executions < count; i++)
        {
            await Task.Delay(50);
        }

        Assert.Equal(count, dispatcher.Executions);
    }
}

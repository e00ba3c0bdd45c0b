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
        var clock = new TimerCountingTimeProvider(DateTimeOffset.UtcNow);
        var dispatcher = NewDispatcher(server, clock, server.GetRequiredService<WeComCommandRegistry>());
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

    [Fact]
    public async Task HandleReplay_OneMembersMessagesReplayedBackToBack_RunInTheOrderSent()
    {
        // The relay replays an outage's messages in order, each as soon as the previous one was answered 200; "开灯"
        // then "关灯" must not run side by side. Here the first command is slow (a switch on a slow bus): the second
        // must still start only after it, while another member's message is not held back.
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api));
        var order = new RecordingCommand();
        var clock = new TimerCountingTimeProvider(DateTimeOffset.UtcNow);
        var dispatcher = NewDispatcher(server, clock, new WeComCommandRegistry([order]));

        await dispatcher.HandleReplayAsync(Text("alice", "record slow"), clock.GetUtcNow());
        await dispatcher.HandleReplayAsync(Text("alice", "record fast"), clock.GetUtcNow());
        await dispatcher.HandleReplayAsync(Text("dad", "record other"), clock.GetUtcNow());
        await ExecutionsReachAsync(dispatcher, 3);
        for (var i = 0; i < 100 && order.Events.Count < 6; i++)
        {
            await Task.Delay(50);
        }

        var events = order.Events;
        Assert.Equal(6, events.Count);
        Assert.True(events.IndexOf("end slow") < events.IndexOf("start fast"), string.Join(", ", events)); // alice's in order
        Assert.True(events.IndexOf("start other") < events.IndexOf("end slow"), string.Join(", ", events)); // dad not held back
    }

    [Fact]
    public async Task HandleReplay_PreviousReplayedMessageStuck_NextRunsAfterReplayOrderWait()
    {
        // One stuck run must not hold the rest of an outage's messages back for good.
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api));
        var order = new RecordingCommand();
        var clock = new TimerCountingTimeProvider(DateTimeOffset.UtcNow);
        var dispatcher = NewDispatcher(server, clock, new WeComCommandRegistry([order]));

        await dispatcher.HandleReplayAsync(Text("alice", "record stuck"), clock.GetUtcNow());
        await dispatcher.HandleReplayAsync(Text("alice", "record fast"), clock.GetUtcNow());
        await ExecutionsReachAsync(dispatcher, 1);
        // On the clock: the stuck command's 2-minute timeout, and (once the thread pool has got to it) the second
        // message's wait for it.
        for (var i = 0; i < 100 && clock.PendingTimers < 2; i++)
        {
            await Task.Delay(50);
        }

        Assert.Equal(2, clock.PendingTimers);
        clock.Advance(MessageDispatcher.ReplayOrderWait - TimeSpan.FromSeconds(1));
        await Task.Delay(300);
        Assert.Equal(["start stuck"], order.Events);

        clock.Advance(TimeSpan.FromSeconds(1));
        await ExecutionsReachAsync(dispatcher, 2);
        for (var i = 0; i < 100 && order.Events.Count < 3; i++)
        {
            await Task.Delay(50);
        }

        Assert.Equal(["start stuck", "start fast", "end fast"], order.Events);
        order.Release();
    }

    [Fact]
    public async Task HandleReplay_EnterAgentEvent_NotAnsweredButAClickIs()
    {
        // Opening the app while the camera was offline: no help text minutes later. A menu click is a command: it runs.
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api));
        var clock = new TimerCountingTimeProvider(DateTimeOffset.UtcNow);
        var dispatcher = NewDispatcher(server, clock, server.GetRequiredService<WeComCommandRegistry>());
        InboundMessage Event(string name, string key = "") => new(new Dictionary<string, string>
        {
            ["FromUserName"] = "alice", ["MsgType"] = "event", ["Event"] = name, ["EventKey"] = key, ["AgentID"] = "1000002",
            ["CreateTime"] = clock.GetUtcNow().ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture),
        });

        await dispatcher.HandleReplayAsync(Event("enter_agent"), clock.GetUtcNow());
        await Task.Delay(500);
        Assert.Equal(0, dispatcher.Executions);
        Assert.Empty(api.CallsTo("message/send"));

        await dispatcher.HandleReplayAsync(Event("click", "help"), clock.GetUtcNow());
        await ExecutionsReachAsync(dispatcher, 1);
        Assert.True(await FakeWeComServer.EventuallyAsync(() => api.CallsTo("message/send").Any(), TimeSpan.FromSeconds(10)));
    }

    /// <summary>A dispatcher on <paramref name="clock"/> with <paramref name="commands"/> and the running appliance's messenger.</summary>
    private static MessageDispatcher NewDispatcher(ApplianceServer server, TimerCountingTimeProvider clock, WeComCommandRegistry commands) => new(
        server.GetRequiredService<WeComOptions>(), commands, server.GetRequiredService<WeComMessenger>(), server.GetRequiredService<WeComMetrics>(),
        new RunJournal(null, clock, NullLogger<RunJournal>.Instance), clock, NullLogger<MessageDispatcher>.Instance, []);

    private static InboundMessage Text(string user, string content) => new(new Dictionary<string, string>
    {
        ["FromUserName"] = user, ["MsgType"] = "text", ["Content"] = content, ["MsgId"] = WeComCallbackClient.NextMsgId(),
        ["CreateTime"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture),
    });

    /// <summary>"record NAME": notes when NAME starts and ends; "slow" takes 1 s, "stuck" waits for <see cref="Release"/>.</summary>
    private sealed class RecordingCommand : IWeComCommand
    {
        private readonly Lock _lock = new();
        private readonly List<string> _events = [];
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<string> Events
        {
            get
            {
                lock (_lock)
                {
                    return [.. _events];
                }
            }
        }

        public IReadOnlyList<string> Names => ["record"];

        public string Help => "record — test";

        public WeComCommandAccess Access => WeComCommandAccess.Family;

        public async Task<WeComMessage?> ExecuteAsync(WeComCommandContext context, CancellationToken cancellationToken)
        {
            Note("start " + context.Arguments);
            await Task.Delay(context.Arguments == "slow" ? 1000 : 0, cancellationToken);
            if (context.Arguments == "stuck")
            {
                await _released.Task.WaitAsync(cancellationToken);
            }

            Note("end " + context.Arguments);
            return new TextMessage("done " + context.Arguments);
        }

        public void Release() => _released.TrySetResult();

        private void Note(string what)
        {
            lock (_lock)
            {
                _events.Add(what);
            }
        }
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

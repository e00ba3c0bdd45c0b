using System.Collections.Concurrent;
using Appliance.WeCom.Api;
using Appliance.WeCom.Commands;

namespace Appliance.WeCom.Callback;

/// <summary>
/// Runs each callback message once (WeCom retries the same MsgId up to 3 times when it has no 200 within 5 s) and
/// decides how the answer travels: a passive reply when ready within WeCom:PassiveReplyBudget, otherwise an empty
/// 200 now, a short "working on it" text and the answer through message/send when ready.
/// </summary>
public sealed partial class MessageDispatcher(
    WeComOptions options, WeComCommandRegistry commands, WeComMessenger messenger, WeComMetrics metrics, RunJournal journal,
    TimeProvider time, ILogger<MessageDispatcher> logger, IEnumerable<IWeComVoiceHandler> voiceHandlers,
    IEnumerable<Appliance.Events.IEventRecorder>? timeline = null)
{
    private readonly Appliance.Events.IEventRecorder[] _timeline = [.. timeline ?? []];

    private const int MaxRemembered = 50_000;

    /// <summary>
    /// How long a replayed message waits for the same member's previous replayed one to finish: long enough for any
    /// command, short enough that one stuck run does not hold the rest of an outage's messages back.
    /// </summary>
    internal static readonly TimeSpan ReplayOrderWait = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<string, Work> _seen = new(StringComparer.Ordinal);

    // Per member, the end of the last replayed message's run and answer (see HandleReplayAsync).
    private readonly Dictionary<string, Task> _replayTail = new(StringComparer.OrdinalIgnoreCase);
    private readonly Lock _replayLock = new();
    private long _nextSweep;

    /// <summary>Commands actually run (not counting duplicates), for tests and status.</summary>
    public long Executions => Interlocked.Read(ref _executions);

    private long _executions;

    /// <summary>The passive reply, or null for an empty 200. <paramref name="deadline"/> is when the budget ends.</summary>
    public async Task<WeComMessage?> HandleAsync(InboundMessage message, long deadline)
    {
        ArgumentNullException.ThrowIfNull(message);
        var work = StartOrJoin(message, out var duplicate);
        if (duplicate && work.Deferred)
        {
            return null;
        }

        var remaining = time.GetElapsedTime(time.GetTimestamp(), deadline);
        var task = work.Completion.Task;
        if (!task.IsCompleted && remaining > TimeSpan.Zero)
        {
            try
            {
                await task.WaitAsync(remaining, time);
            }
            catch (TimeoutException)
            {
            }
        }

        if (task.IsCompleted && !work.Deferred)
        {
            var answer = task.Result;
            if (answer is null)
            {
                return null;
            }

            if (answer.CanReplyPassively)
            {
                metrics.Passive();
                return answer;
            }

            // textcard, markdown: not a passive-reply type, so it goes through message/send at once.
            if (work.TryDefer())
            {
                metrics.Pushed();
                _ = messenger.SendAsync(message.FromUserName, answer);
            }

            return null;
        }

        if (work.TryDefer())
        {
            LogDeferred(logger, message.FromUserName, options.PassiveReplyBudget.TotalSeconds);
            metrics.Pushed();
            _ = PushLaterAsync(message.FromUserName, task);
        }

        return null;
    }

    /// <summary>
    /// A message the relay kept while the appliance was offline. The relay has already answered WeCom, so the result
    /// goes out through message/send only; the MsgId dedupe keeps a replay of something already run from running
    /// twice. Too old a message is not run at all: its sender is told it arrived late.
    /// </summary>
    public Task HandleReplayAsync(InboundMessage message, DateTimeOffset sentAt)
    {
        ArgumentNullException.ThrowIfNull(message);
        var age = time.GetUtcNow() - sentAt;
        if (age > options.ReplayMaxAge)
        {
            metrics.Pushed();
            LogReplayTooOld(logger, message.FromUserName, age.TotalMinutes);
            if (!options.IsAllowed(message.FromUserName) || message.MsgType == "event")
            {
                return Task.CompletedTask;
            }

            var what = Describe(message);
            return messenger.SendAsync(message.FromUserName, new TextMessage(
                $"您 {sentAt.ToLocalTime():MM-dd HH:mm} 发送的 {what} 到达时设备离线，未执行；如仍需要请重新发送。" +
                $"Your {what} from {sentAt.ToLocalTime():MM-dd HH:mm} arrived while the camera was offline and was not run; send it again if you still need it."));
        }

        if (message.MsgType == "event" && message.Event == "enter_agent")
        {
            // Someone opened the app while the camera was offline: the help text it would have shown then, arriving
            // minutes later on its own, would only puzzle them.
            LogStaleEventDropped(logger, message.Event, message.FromUserName);
            return Task.CompletedTask;
        }

        // The relay replays an outage's messages one by one, in order, but each is answered as soon as its run has
        // started: a member's "开灯" then "关灯" would run side by side and the light could end up on. So each replayed
        // message runs after the same member's previous one has run and been answered.
        lock (_replayLock)
        {
            var user = message.FromUserName;
            _replayTail.TryGetValue(user, out var previous);
            var work = StartOrJoin(message, out var duplicate, previous);
            var done = work.Completion.Task as Task;
            if (work.TryDefer())
            {
                metrics.Pushed();
                done = PushLaterAsync(user, work.Completion.Task, announce: false);
            }

            if (!duplicate)
            {
                _replayTail[user] = done;
                _ = done.ContinueWith(
                    finished =>
                    {
                        lock (_replayLock)
                        {
                            if (_replayTail.TryGetValue(user, out var last) && last == finished)
                            {
                                _replayTail.Remove(user);
                            }
                        }
                    },
                    CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// The run of this message: started now when it is new, or the one already started for an earlier delivery of the
    /// same message (a WeCom retry, a relay replay), which is never run a second time, not even when that delivery came
    /// before a restart (<see cref="RunJournal"/>).
    /// </summary>
    private Work StartOrJoin(InboundMessage message, out bool duplicate, Task? after = null)
    {
        Sweep();
        // Remembered for as long as either delivery may still come: WeCom's retries, or the relay replaying a callback it
        // answered for a slow appliance (up to ReplayMaxAge later, when the tunnel dropped in between).
        var fresh = new Work(time.GetUtcNow() + (options.DedupeWindow > options.ReplayMaxAge ? options.DedupeWindow : options.ReplayMaxAge));
        var work = _seen.GetOrAdd(message.DedupeKey, fresh);
        duplicate = !ReferenceEquals(work, fresh);
        if (!duplicate)
        {
            _ = Task.Run(async () =>
            {
                try
                {
                    if (after is not null)
                    {
                        await AfterAsync(after, message.FromUserName);
                    }

                    work.Completion.TrySetResult(await RunOnceAsync(message, work.Expires));
                }
                catch (Exception ex)
                {
                    work.Completion.TrySetException(ex);
                }
            });
        }
        else
        {
            metrics.Duplicate();
            LogDuplicate(logger, message.DedupeKey, message.FromUserName);
        }

        return work;
    }

    /// <summary>Waits for <paramref name="earlier"/> (whatever its outcome: that is its own to report), at most <see cref="ReplayOrderWait"/>.</summary>
    private async Task AfterAsync(Task earlier, string user)
    {
        try
        {
            await earlier.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default)
                .WaitAsync(ReplayOrderWait, time);
        }
        catch (TimeoutException)
        {
            LogReplayOrderWaitExpired(logger, user, ReplayOrderWait.TotalSeconds);
        }
    }

    private async Task<WeComMessage?> RunOnceAsync(InboundMessage message, DateTimeOffset expires)
    {
        // Only what can act (a command, a menu click, a voice) is held back; the rest has nothing to repeat.
        var acts = message.MsgType is "text" or "voice" || (message.MsgType == "event" && message.Event == "click");
        if (acts && options.IsAllowed(message.FromUserName) && journal.StartedBeforeRestart(message.DedupeKey) is { } started)
        {
            metrics.Duplicate();
            LogStartedBeforeRestart(logger, message.DedupeKey, message.FromUserName, started);
            var what = Describe(message);
            return new TextMessage(
                $"您的 {what} 已在 {started.ToLocalTime():HH:mm:ss} 开始执行，之后设备重启，结果可能未送达；为免重复执行，未再次执行。如仍需要请重新发送。" +
                $"Your {what} started at {started.ToLocalTime():HH:mm:ss}, then the camera restarted, so its answer may not have reached you; it was not run again, to avoid running it twice. Send it again if you still need it.");
        }

        if (acts)
        {
            journal.Record(message.DedupeKey, expires);
        }

        return await ExecuteAsync(message);
    }

    private static string Describe(InboundMessage message) => message.MsgType switch
    {
        "text" => $"“{message.Content}”",
        "event" when message.Event == "click" => $"“{message.EventKey}”",
        _ => message.MsgType,
    };

    private async Task PushLaterAsync(string user, Task<WeComMessage?> task, bool announce = true)
    {
        if (announce)
        {
            await messenger.SendAsync(user, new TextMessage("正在处理，请稍候… Working on it…"));
        }

        var answer = await task;
        if (answer is not null)
        {
            await messenger.SendAsync(user, answer);
        }
    }

    private async Task<WeComMessage?> ExecuteAsync(InboundMessage message)
    {
        Interlocked.Increment(ref _executions);
        var user = message.FromUserName;
        if (!options.IsAllowed(user))
        {
            metrics.Refused();
            LogRefused(logger, user, message.MsgType);
            return message.MsgType == "event" && message.Event is not ("enter_agent" or "click")
                ? null
                : new TextMessage("抱歉，您没有使用此应用的权限。Sorry, this camera only answers members of the household. Ask an admin to add you.");
        }

        var isAdmin = options.IsAdmin(user);
        string text;
        switch (message.MsgType)
        {
            case "text":
                text = message.Content;
                break;
            case "event" when message.Event == "click":
                text = message.EventKey;
                break;
            case "event" when message.Event == "enter_agent":
                return new TextMessage(commands.HelpText(isAdmin));
            case "event":
                return null;
            case "voice" when await HandleVoiceAsync(message, isAdmin) is { } voiceAnswer:
                return voiceAnswer;
            default:
                return new TextMessage("我只听得懂文字命令。I understand text commands.\n" + commands.HelpText(isAdmin));
        }

        if (commands.Resolve(text) is not { } resolved)
        {
            return new TextMessage(commands.HelpText(isAdmin));
        }

        var (command, arguments) = resolved;
        if (command.Access == WeComCommandAccess.Admin && !isAdmin)
        {
            LogNotAdmin(logger, user, command.Names[0]);
            Record(command, user, refused: true);
            return new TextMessage($"抱歉，只有管理员可以使用“{command.Names[0]}”。Sorry, only admins may use {command.Names[^1]}.");
        }

        try
        {
            metrics.Command();
            LogCommand(logger, user, command.Names[0]);
            if (command.OnTimeline)
            {
                Record(command, user, refused: false);
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2), time);
            return await command.ExecuteAsync(new WeComCommandContext(user, isAdmin, arguments, message), timeout.Token);
        }
        catch (Exception ex)
        {
            LogCommandFailed(logger, command.Names[0], user, ex);
            return new TextMessage($"“{command.Names[0]}”失败了 failed: {ex.Message}");
        }
    }

    /// <summary>A command on the timeline: source its English name ("arm", "arm:refused" for a member who may not), by "wecom:USER".</summary>
    private void Record(IWeComCommand command, string user, bool refused)
    {
        var name = command.Names.FirstOrDefault(n => n.All(char.IsAsciiLetter)) ?? command.Names[0];
        foreach (var recorder in _timeline)
        {
            recorder.Record("wecom", time.GetUtcNow(), refused ? name + ":refused" : name, "wecom:" + user);
        }
    }

    private async Task<WeComMessage?> HandleVoiceAsync(InboundMessage message, bool isAdmin)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2), time);
        try
        {
            foreach (var handler in voiceHandlers)
            {
                if (await handler.TryHandleAsync(new WeComCommandContext(message.FromUserName, isAdmin, "", message), timeout.Token) is { } answer)
                {
                    return answer;
                }
            }
        }
        catch (Exception ex)
        {
            LogCommandFailed(logger, "voice", message.FromUserName, ex);
            return new TextMessage($"语音处理失败 The voice message could not be handled: {ex.Message}");
        }

        return null;
    }

    private void Sweep()
    {
        var now = time.GetTimestamp();
        var next = Interlocked.Read(ref _nextSweep);
        if ((now < next && _seen.Count < MaxRemembered) || Interlocked.CompareExchange(ref _nextSweep, now + time.TimestampFrequency * 10, next) != next)
        {
            return;
        }

        var cutoff = time.GetUtcNow();
        foreach (var (key, work) in _seen)
        {
            if (work.Expires <= cutoff && work.Completion.Task.IsCompleted)
            {
                _seen.TryRemove(key, out _);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "WeCom duplicate {Key} from {User}: answered without running it again")]
    private static partial void LogDuplicate(ILogger logger, string key, string user);

    [LoggerMessage(Level = LogLevel.Warning, Message = "WeCom {Key} from {User} was started at {Started} before a restart: not run again, the sender is told")]
    private static partial void LogStartedBeforeRestart(ILogger logger, string key, string user, DateTimeOffset started);

    [LoggerMessage(Level = LogLevel.Information, Message = "WeCom answer for {User} not ready within {Budget} s: empty 200 now, message/send later")]
    private static partial void LogDeferred(ILogger logger, string user, double budget);

    [LoggerMessage(Level = LogLevel.Warning, Message = "WeCom message from {User} ({MsgType}) refused: not on WeCom:AllowedUsers")]
    private static partial void LogRefused(ILogger logger, string user, string msgType);

    [LoggerMessage(Level = LogLevel.Warning, Message = "WeCom user {User} tried admin command {Command}")]
    private static partial void LogNotAdmin(ILogger logger, string user, string command);

    [LoggerMessage(Level = LogLevel.Information, Message = "WeCom {User}: {Command}")]
    private static partial void LogCommand(ILogger logger, string user, string command);

    [LoggerMessage(Level = LogLevel.Information, Message = "A replayed {Event} event from {User} is not answered (it was only a greeting)")]
    private static partial void LogStaleEventDropped(ILogger logger, string @event, string user);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A replayed message from {User} waited {Seconds:0} s for their previous one to finish; running it anyway")]
    private static partial void LogReplayOrderWaitExpired(ILogger logger, string user, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A replayed message from {User} is {Minutes:0} minutes old (over WeCom:ReplayMaxAge): not run, the sender is told")]
    private static partial void LogReplayTooOld(ILogger logger, string user, double minutes);

    [LoggerMessage(Level = LogLevel.Error, Message = "WeCom command {Command} for {User} failed")]
    private static partial void LogCommandFailed(ILogger logger, string command, string user, Exception ex);

    private sealed class Work(DateTimeOffset expires)
    {
        private int _deferred;

        public DateTimeOffset Expires { get; } = expires;

        public TaskCompletionSource<WeComMessage?> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Deferred => Volatile.Read(ref _deferred) != 0;

        /// <summary>True for exactly one caller: the one who hands the answer to message/send.</summary>
        public bool TryDefer() => Interlocked.Exchange(ref _deferred, 1) == 0;
    }
}

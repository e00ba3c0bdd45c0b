namespace Appliance.WeCom.Api;

/// <summary>
/// At most <c>limit</c> messages per member per window (several windows may apply: WeCom allows 30 a minute and 1000
/// an hour). Messages over the limit wait in the member's queue and are merged when the windows allow again (texts
/// joined into as few messages of at most 2048 bytes as they fit in, only the newest picture kept with a note of how
/// many older ones were folded; what still does not fit waits for the next opening) — WeCom drops the excess
/// silently, so sending anyway would lose them.
/// </summary>
public sealed partial class MemberRateLimiter : IDisposable
{
    private readonly (int Limit, TimeSpan Window)[] _limits;
    private readonly TimeSpan _longest;
    private readonly TimeProvider _time;
    private readonly Func<string, WeComMessage, Task> _deliver;
    private readonly ILogger _logger;
    private readonly Dictionary<string, Member> _members = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public MemberRateLimiter(int limit, TimeSpan window, TimeProvider time, Func<string, WeComMessage, Task> deliver, ILogger logger)
        : this([(limit, window)], time, deliver, logger)
    {
    }

    public MemberRateLimiter(IReadOnlyList<(int Limit, TimeSpan Window)> limits, TimeProvider time, Func<string, WeComMessage, Task> deliver, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentOutOfRangeException.ThrowIfZero(limits.Count);
        foreach (var (limit, _) in limits)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        }

        _limits = [.. limits];
        _longest = _limits.Max(l => l.Window);
        _time = time;
        _deliver = deliver;
        _logger = logger;
    }

    /// <summary>Messages waiting for a member's window to open.</summary>
    public int Queued(string user)
    {
        lock (_lock)
        {
            return _members.TryGetValue(user, out var member) ? member.Pending.Count : 0;
        }
    }

    /// <summary>Sends now if the member's window allows, else queues; completes when the (merged) message went out.</summary>
    public Task SubmitAsync(string user, WeComMessage message)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(message);
        lock (_lock)
        {
            var member = MemberLocked(user);
            Prune(member);
            if (member.Pending.Count == 0 && AvailableLocked(member) > 0)
            {
                member.Sent.Enqueue(_time.GetUtcNow());
                return _deliver(user, message);
            }

            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            member.Pending.Add((message, [done]));
            LogQueued(_logger, user, member.Pending.Count);
            ScheduleLocked(user, member);
            return done.Task;
        }
    }

    private Member MemberLocked(string user)
    {
        if (!_members.TryGetValue(user, out var member))
        {
            member = new Member();
            _members[user] = member;
        }

        return member;
    }

    private void Prune(Member member)
    {
        var cutoff = _time.GetUtcNow() - _longest;
        while (member.Sent.Count > 0 && member.Sent.Peek() <= cutoff)
        {
            member.Sent.Dequeue();
        }
    }

    /// <summary>How many more messages every window allows now.</summary>
    private int AvailableLocked(Member member)
    {
        var now = _time.GetUtcNow();
        var available = int.MaxValue;
        foreach (var (limit, window) in _limits)
        {
            available = Math.Min(available, limit - member.Sent.Count(sent => sent > now - window));
        }

        return available;
    }

    /// <summary>When every full window has let go of the send that keeps it full.</summary>
    private TimeSpan DueLocked(Member member)
    {
        var now = _time.GetUtcNow();
        var due = TimeSpan.Zero;
        foreach (var (limit, window) in _limits)
        {
            var counted = member.Sent.Where(sent => sent > now - window).ToList(); // oldest first
            if (counted.Count >= limit && counted[counted.Count - limit] + window - now is var frees && frees > due)
            {
                due = frees;
            }
        }

        return due;
    }

    private void ScheduleLocked(string user, Member member)
    {
        if (member.Timer is not null)
        {
            return;
        }

        member.Timer = _time.CreateTimer(_ => Drain(user), null, DueLocked(member), Timeout.InfiniteTimeSpan);
    }

    private void Drain(string user)
    {
        List<(WeComMessage Message, List<TaskCompletionSource> Done)> batch;
        lock (_lock)
        {
            var member = MemberLocked(user);
            member.Timer?.Dispose();
            member.Timer = null;
            Prune(member);
            var available = AvailableLocked(member);
            if (member.Pending.Count == 0 || available <= 0)
            {
                if (member.Pending.Count > 0)
                {
                    ScheduleLocked(user, member);
                }

                return;
            }

            (batch, var later) = Merge(member.Pending, available);
            member.Pending.Clear();
            member.Pending.AddRange(later);
            for (var i = 0; i < batch.Count; i++)
            {
                member.Sent.Enqueue(_time.GetUtcNow());
            }

            if (later.Count > 0)
            {
                ScheduleLocked(user, member);
            }
        }

        foreach (var (message, done) in batch)
        {
            _ = DeliverAsync(user, message, done);
        }
    }

    private async Task DeliverAsync(string user, WeComMessage message, List<TaskCompletionSource> done)
    {
        try
        {
            await _deliver(user, message);
            done.ForEach(d => d.TrySetResult());
        }
        catch (Exception ex)
        {
            done.ForEach(d => d.TrySetException(ex));
        }
    }

    /// <summary>
    /// Folds the queue into at most <paramref name="available"/> messages to send now, losing no text: texts are joined
    /// into messages of at most <see cref="TextMessage.MaxBytes"/> (WeCom cuts longer ones), and what does not fit
    /// now is returned to wait for the next window.
    /// </summary>
    internal static (List<(WeComMessage Message, List<TaskCompletionSource> Done)> Now, List<(WeComMessage Message, List<TaskCompletionSource> Done)> Later) Merge(
        List<(WeComMessage Message, List<TaskCompletionSource> Done)> pending, int available)
    {
        var texts = new List<(string Text, List<TaskCompletionSource> Done)>();
        var media = new List<(WeComMessage Message, List<TaskCompletionSource> Done)>();
        foreach (var (message, done) in pending)
        {
            switch (message)
            {
                case TextMessage text:
                    texts.Add((text.Content, done));
                    break;
                case MarkdownMessage markdown:
                    texts.Add((markdown.Content, done));
                    break;
                case TextCardMessage card:
                    texts.Add(($"{card.Title}: {card.Url}", done));
                    break;
                default:
                    media.Add((message, done));
                    break;
            }
        }

        // Keep the newest media that fit beside the merged text; fold the rest into the text as a note.
        var mediaSlots = Math.Max(0, available - (texts.Count > 0 || media.Count > available ? 1 : 0));
        var dropped = Math.Max(0, media.Count - mediaSlots);
        if (dropped > 0)
        {
            texts.Add(($"({dropped} older picture(s)/clip(s) folded into this message by WeCom's send limit)", [.. media.Take(dropped).SelectMany(m => m.Done)]));
        }

        var merged = new List<(WeComMessage Message, List<TaskCompletionSource> Done)>();
        var joined = new System.Text.StringBuilder();
        var joinedBytes = 0;
        var joinedDone = new List<TaskCompletionSource>();
        foreach (var (text, done) in texts)
        {
            var bytes = System.Text.Encoding.UTF8.GetByteCount(text);
            if (joined.Length > 0 && joinedBytes + 2 + bytes > TextMessage.MaxBytes)
            {
                merged.Add((new TextMessage(joined.ToString()), joinedDone));
                joined.Clear();
                joinedBytes = 0;
                joinedDone = [];
            }

            joinedBytes += (joined.Length > 0 ? 2 : 0) + bytes;
            joined.Append(joined.Length > 0 ? "\n\n" : "").Append(text);
            joinedDone.AddRange(done);
        }

        if (joined.Length > 0)
        {
            merged.Add((new TextMessage(joined.ToString()), joinedDone));
        }

        merged.AddRange(media.Skip(dropped));
        var now = merged.Count <= available ? merged : merged[..available];
        return (now, merged[now.Count..]);
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var member in _members.Values)
            {
                member.Timer?.Dispose();
                member.Timer = null;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "WeCom send limit reached for {User}: {Count} message(s) queued for merging")]
    private static partial void LogQueued(ILogger logger, string user, int count);

    private sealed class Member
    {
        public Queue<DateTimeOffset> Sent { get; } = new();

        public List<(WeComMessage Message, List<TaskCompletionSource> Done)> Pending { get; } = [];

        public ITimer? Timer { get; set; }
    }
}

/// <summary>
/// Sends app messages to one member through the per-member limits (WeCom:MessagesPerMemberPerMinute and PerHour). A send
/// WeCom refuses for a passing reason (busy after its retries, API frequency limit, no answer) is tried again later,
/// up to <see cref="ResendDelays"/>; a refusal that would not change (a non-member, bad credentials) is logged at once.
/// </summary>
public sealed partial class WeComMessenger : IDisposable
{
    /// <summary>Waits before the later attempts of a send refused for a passing reason.</summary>
    internal static readonly TimeSpan[] ResendDelays = [TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(10)];

    /// <summary>45009: API call frequency over the limit; 45033: too many concurrent calls.</summary>
    private static readonly int[] PassingErrcodes = [45009, 45033];

    private readonly WeComApiClient _api;
    private readonly TimeProvider _time;
    private readonly ILogger<WeComMessenger> _logger;
    private readonly MemberRateLimiter _limiter;

    public WeComMessenger(WeComApiClient api, WeComOptions options, TimeProvider time, ILogger<WeComMessenger> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _api = api;
        _time = time;
        _logger = logger;
        _limiter = new MemberRateLimiter(
            [(options.MessagesPerMemberPerMinute, TimeSpan.FromMinutes(1)), (options.MessagesPerMemberPerHour, TimeSpan.FromHours(1))],
            time, DeliverAsync, logger);
    }

    public MemberRateLimiter Limiter => _limiter;

    /// <summary>Completes when the message (possibly merged with others) was handed to WeCom or given up; failures are logged.</summary>
    public Task SendAsync(string user, WeComMessage message) => _limiter.SubmitAsync(user, message);

    private async Task DeliverAsync(string user, WeComMessage message)
    {
        for (var attempt = 0; ; attempt++)
        {
            var result = await _api.SendAsync(user, message, CancellationToken.None);
            if (result.IsSuccess)
            {
                return;
            }

            var error = result.Error!;
            var passing = error.Kind is WeComErrorKind.Busy or WeComErrorKind.Transport || PassingErrcodes.Contains(error.ErrCode);
            if (!passing || attempt == ResendDelays.Length)
            {
                LogSendFailed(_logger, message.MsgType, user, attempt + 1, error.ToString());
                return;
            }

            LogResendLater(_logger, message.MsgType, user, error.ToString(), ResendDelays[attempt].TotalSeconds);
            await Task.Delay(ResendDelays[attempt], _time);
        }
    }

    public void Dispose() => _limiter.Dispose();

    [LoggerMessage(Level = LogLevel.Warning, Message = "WeCom {MsgType} to {User} was not sent after {Attempts} attempt(s): {Error}")]
    private static partial void LogSendFailed(ILogger logger, string msgType, string user, int attempts, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "WeCom {MsgType} to {User} was refused ({Error}); trying again in {Seconds} s")]
    private static partial void LogResendLater(ILogger logger, string msgType, string user, string error, double seconds);
}

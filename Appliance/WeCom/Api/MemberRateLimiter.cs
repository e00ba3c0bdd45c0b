namespace Appliance.WeCom.Api;

/// <summary>
/// At most <c>limit</c> messages per member per window. Messages over the limit wait in the member's queue and are
/// merged when the window allows again (texts joined, only the newest picture kept with a note of how many older
/// ones were folded) — WeCom drops the excess silently, so sending anyway would lose them.
/// </summary>
public sealed partial class MemberRateLimiter : IDisposable
{
    private readonly int _limit;
    private readonly TimeSpan _window;
    private readonly TimeProvider _time;
    private readonly Func<string, WeComMessage, Task> _deliver;
    private readonly ILogger _logger;
    private readonly Dictionary<string, Member> _members = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public MemberRateLimiter(int limit, TimeSpan window, TimeProvider time, Func<string, WeComMessage, Task> deliver, ILogger logger)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        _limit = limit;
        _window = window;
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
            if (member.Pending.Count == 0 && member.Sent.Count < _limit)
            {
                member.Sent.Enqueue(_time.GetUtcNow());
                return _deliver(user, message);
            }

            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            member.Pending.Add((message, done));
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
        var cutoff = _time.GetUtcNow() - _window;
        while (member.Sent.Count > 0 && member.Sent.Peek() <= cutoff)
        {
            member.Sent.Dequeue();
        }
    }

    private void ScheduleLocked(string user, Member member)
    {
        if (member.Timer is not null)
        {
            return;
        }

        var due = member.Sent.Count > 0 ? member.Sent.Peek() + _window - _time.GetUtcNow() : TimeSpan.Zero;
        member.Timer = _time.CreateTimer(_ => Drain(user), null, due < TimeSpan.Zero ? TimeSpan.Zero : due, Timeout.InfiniteTimeSpan);
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
            var available = _limit - member.Sent.Count;
            if (member.Pending.Count == 0 || available <= 0)
            {
                if (member.Pending.Count > 0)
                {
                    ScheduleLocked(user, member);
                }

                return;
            }

            batch = Merge(member.Pending, available);
            member.Pending.Clear();
            for (var i = 0; i < batch.Count; i++)
            {
                member.Sent.Enqueue(_time.GetUtcNow());
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

    /// <summary>Folds the queue into at most <paramref name="available"/> messages, losing no text.</summary>
    internal static List<(WeComMessage Message, List<TaskCompletionSource> Done)> Merge(List<(WeComMessage Message, TaskCompletionSource Done)> pending, int available)
    {
        var texts = new List<string>();
        var textDone = new List<TaskCompletionSource>();
        var media = new List<(WeComMessage Message, TaskCompletionSource Done)>();
        foreach (var (message, done) in pending)
        {
            switch (message)
            {
                case TextMessage text:
                    texts.Add(text.Content);
                    textDone.Add(done);
                    break;
                case MarkdownMessage markdown:
                    texts.Add(markdown.Content);
                    textDone.Add(done);
                    break;
                case TextCardMessage card:
                    texts.Add($"{card.Title}: {card.Url}");
                    textDone.Add(done);
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
            texts.Add($"({dropped} older picture(s)/clip(s) folded into this message by WeCom's send limit)");
            textDone.AddRange(media.Take(dropped).Select(m => m.Done));
        }

        var result = new List<(WeComMessage, List<TaskCompletionSource>)>();
        if (texts.Count > 0)
        {
            result.Add((new TextMessage(string.Join("\n\n", texts)), textDone));
        }

        result.AddRange(media.Skip(dropped).Select(m => (m.Message, new List<TaskCompletionSource> { m.Done })));
        return result;
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

        public List<(WeComMessage Message, TaskCompletionSource Done)> Pending { get; } = [];

        public ITimer? Timer { get; set; }
    }
}

/// <summary>Sends app messages to one member through the per-member limit (WeCom:MessagesPerMemberPerMinute).</summary>
public sealed partial class WeComMessenger : IDisposable
{
    private readonly WeComApiClient _api;
    private readonly ILogger<WeComMessenger> _logger;
    private readonly MemberRateLimiter _limiter;

    public WeComMessenger(WeComApiClient api, WeComOptions options, TimeProvider time, ILogger<WeComMessenger> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _api = api;
        _logger = logger;
        _limiter = new MemberRateLimiter(options.MessagesPerMemberPerMinute, TimeSpan.FromMinutes(1), time, DeliverAsync, logger);
    }

    public MemberRateLimiter Limiter => _limiter;

    /// <summary>Completes when the message (possibly merged with others) was handed to WeCom; failures are logged.</summary>
    public Task SendAsync(string user, WeComMessage message) => _limiter.SubmitAsync(user, message);

    private async Task DeliverAsync(string user, WeComMessage message)
    {
        var result = await _api.SendAsync(user, message, CancellationToken.None);
        if (!result.IsSuccess)
        {
            LogSendFailed(_logger, message.MsgType, user, result.Error!.ToString());
        }
    }

    public void Dispose() => _limiter.Dispose();

    [LoggerMessage(Level = LogLevel.Warning, Message = "WeCom {MsgType} to {User} was not sent: {Error}")]
    private static partial void LogSendFailed(ILogger logger, string msgType, string user, string error);
}

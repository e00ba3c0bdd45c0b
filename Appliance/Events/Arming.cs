using System.Globalization;
using System.Text.Json.Nodes;
using Appliance.Status;
using Appliance.WeCom.Alerts;
using Appliance.WeCom.Api;
using Appliance.WeCom.Commands;
using Camera;
using Camera.Motion;

namespace Appliance.Events;

/// <summary>
/// The <c>Events</c> keys for being armed: while armed, motion alerts the family; events are recorded either way.
/// (Bound from the same section as the recording keys; a class of its own so the two features stay apart.)
/// </summary>
public sealed class ArmingOptions
{
    public const string SectionName = "Events";

    /// <summary>Whether motion alerts the family, until an admin sends 布防/arm or 撤防/disarm in WeCom (which then wins, also after a restart).</summary>
    public bool Armed { get; set; } = true;

    /// <summary>
    /// When armed counts, in the appliance's local time: "22:00-07:00" (crossing midnight), "09:00-17:30"; empty for
    /// all day. Outside these hours nothing alerts, armed or not.
    /// </summary>
    public string ArmedHours { get; set; } = "";

    public IReadOnlyList<string> Validate() =>
        ArmedHours.Length == 0 || TryParseHours(ArmedHours, out _, out _)
            ? []
            : [$"Events:ArmedHours must be empty or two times of day, from-to, like \"22:00-07:00\" (got \"{ArmedHours}\")."];

    internal static bool TryParseHours(string text, out TimeOnly from, out TimeOnly to)
    {
        from = to = default;
        var parts = text.Split('-', StringSplitOptions.TrimEntries);
        return parts.Length == 2
            && TimeOnly.TryParseExact(parts[0], ["H:mm", "HH:mm"], CultureInfo.InvariantCulture, DateTimeStyles.None, out from)
            && TimeOnly.TryParseExact(parts[1], ["H:mm", "HH:mm"], CultureInfo.InvariantCulture, DateTimeStyles.None, out to)
            && from != to;
    }
}

/// <summary>
/// Armed or not: <c>Events:Armed</c> until an admin changes it in WeCom; that choice is kept in the state directory's
/// <c>events/armed.json</c> (written whole, then renamed over the old one), so it survives a restart. Alerts go out
/// while <see cref="IsActive"/>: armed, and within <c>Events:ArmedHours</c> in the appliance's local time.
/// </summary>
public sealed partial class ArmingState : IStatusContributor
{
    private readonly ArmingOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ArmingState> _logger;
    private readonly string _path;
    private readonly Lock _gate = new();
    private readonly TimeOnly? _from;
    private readonly TimeOnly? _to;
    private bool _armed;
    private string? _changedBy;
    private DateTimeOffset? _changedAt;

    public ArmingState(ArmingOptions options, StateDirectory state, TimeProvider time, ILogger<ArmingState> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(state);
        _options = options;
        _time = time;
        _logger = logger;
        _path = state.File(Path.Combine("events", "armed.json"));
        if (ArmingOptions.TryParseHours(options.ArmedHours, out var from, out var to))
        {
            (_from, _to) = (from, to);
        }

        _armed = options.Armed;
        try
        {
            if (File.Exists(_path) && JsonNode.Parse(File.ReadAllText(_path)) is JsonObject saved && saved["armed"]?.GetValue<bool>() is { } armed)
            {
                _armed = armed;
                _changedBy = saved["by"]?.GetValue<string>();
                _changedAt = DateTimeOffset.TryParse(saved["at"]?.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.None, out var at) ? at : null;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or InvalidOperationException or FormatException)
        {
            // A broken file loses only the admin's last choice: the configured Events:Armed applies, and says so.
            LogUnreadable(_logger, _path, ex.Message);
        }
    }

    public bool Armed
    {
        get
        {
            lock (_gate)
            {
                return _armed;
            }
        }
    }

    /// <summary>Armed and, when <c>Events:ArmedHours</c> is set, within them now (local time of the appliance).</summary>
    public bool IsActive => Armed && WithinHours(_time.GetLocalNow());

    /// <summary>Whether <paramref name="localNow"/> falls within the armed hours (always, when none are set); the end is not included.</summary>
    internal bool WithinHours(DateTimeOffset localNow)
    {
        if (_from is not { } from || _to is not { } to)
        {
            return true;
        }

        var now = TimeOnly.FromTimeSpan(localNow.TimeOfDay);
        return from < to ? now >= from && now < to : now >= from || now < to; // "22:00-07:00" crosses midnight
    }

    /// <summary>Arms or disarms, remembered across restarts; false when the choice could not be saved (it still applies until a restart).</summary>
    public bool Set(bool armed, string by)
    {
        var at = _time.GetUtcNow();
        lock (_gate)
        {
            _armed = armed;
            _changedBy = by;
            _changedAt = at;
        }

        LogChanged(_logger, armed, by);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
            AtomicFile.WriteAllText(_path, new JsonObject
            {
                ["armed"] = armed,
                ["by"] = by,
                ["at"] = at.ToString("O", CultureInfo.InvariantCulture),
            }.ToJsonString(), AtomicFile.Default);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogNotSaved(_logger, _path, ex.Message);
            return false;
        }
    }

    /// <summary>"armed 22:00-07:00 (not now: 12:00)" and the like, for 状态/status and the arm/disarm answers.</summary>
    public string Describe()
    {
        var local = _time.GetLocalNow();
        var text = new System.Text.StringBuilder(Armed ? "已布防 armed" : "已撤防 disarmed");
        if (_options.ArmedHours.Length > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $" ({_options.ArmedHours}");
            if (Armed)
            {
                text.Append(WithinHours(local) ? ", 现在生效 active now" : ", 现在不在时段内 not now");
            }

            text.Append(')');
        }

        return text.ToString();
    }

    public void Contribute(JsonObject status)
    {
        ArgumentNullException.ThrowIfNull(status);
        lock (_gate)
        {
            status["armed"] = new JsonObject
            {
                ["armed"] = _armed,
                ["hours"] = _options.ArmedHours.Length > 0 ? _options.ArmedHours : null,
                ["activeNow"] = _armed && WithinHours(_time.GetLocalNow()),
                ["changedBy"] = _changedBy,
                ["changedAt"] = _changedAt?.ToString("O", CultureInfo.InvariantCulture),
            };
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Events: armed {Armed} (by {By})")]
    private static partial void LogChanged(ILogger logger, bool armed, string by);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Events: {Path} could not be read ({Reason}); Events:Armed applies")]
    private static partial void LogUnreadable(ILogger logger, string path, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Events: the armed state could not be saved to {Path} ({Reason}); it applies until a restart")]
    private static partial void LogNotSaved(ILogger logger, string path, string reason);
}

/// <summary>
/// While armed, a motion event's start sends an alert (text and a fresh photo) through the WeCom alerts, with their
/// per-member rate limit. Runs off the analyser's thread: the upload must not delay the next analysis.
/// </summary>
internal sealed partial class MotionAlerter(ArmingState arming, IAlertNotifier alerts, FrameHub hub, TimeProvider time, ILogger<MotionAlerter> logger) : IMotionListener
{
    private Task _last = Task.CompletedTask;

    /// <summary>The last alert's sending (tests).</summary>
    internal Task Last => Volatile.Read(ref _last);

    public void MotionStarted(DateTimeOffset start)
    {
        if (!arming.IsActive)
        {
            return;
        }

        Volatile.Write(ref _last, Task.Run(() => SendAsync(start)));
    }

    public void MotionEnded(MotionEvent motion)
    {
    }

    private async Task SendAsync(DateTimeOffset start)
    {
        var local = TimeZoneInfo.ConvertTime(start, time.LocalTimeZone);
        var frame = hub.AcquireLatest();
        try
        {
            await alerts.NotifyAsync($"有动静 Motion at {local:HH:mm:ss}", frame).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogFailed(logger, ex);
        }
        finally
        {
            frame?.Release();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Events: the motion alert could not be sent")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}

/// <summary>布防 / arm and 撤防 / disarm (admins): motion alerts on or off, remembered across restarts.</summary>
internal sealed class ArmCommand(ArmingState arming, bool arm) : IWeComCommand
{
    public IReadOnlyList<string> Names { get; } = arm ? ["布防", "arm"] : ["撤防", "disarm"];

    public string Help => arm ? "布防 / arm — 有动静时提醒 alert on motion" : "撤防 / disarm — 有动静不提醒 no motion alerts (events are still recorded)";

    public WeComCommandAccess Access => WeComCommandAccess.Admin;

    public bool OnTimeline => true;

    public bool AcceptsUnspaced(string arguments) => arguments.Length == 0;

    public Task<WeComMessage?> ExecuteAsync(WeComCommandContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var saved = arming.Set(arm, "wecom:" + context.User);
        return Task.FromResult<WeComMessage?>(new TextMessage(arming.Describe()
            + (saved ? "" : "\n(未能保存，重启后恢复配置 not saved: a restart goes back to the configured setting)")));
    }
}

using Appliance.WeCom.Api;
using Appliance.WeCom.Callback;

namespace Appliance.WeCom.Commands;

/// <summary>Who may use a command.</summary>
public enum WeComCommandAccess
{
    /// <summary>Everybody on WeCom:AllowedUsers (and the admins).</summary>
    Family,

    /// <summary>Only WeCom:Admins.</summary>
    Admin,
}

/// <summary>
/// A command family members can type (or pick from the app menu, whose EventKey is one of the names). Features
/// add theirs with <c>builder.Services.AddSingleton&lt;IWeComCommand, MyCommand&gt;()</c>.
/// </summary>
public interface IWeComCommand
{
    /// <summary>Names and aliases, Chinese first: ["拍照", "photo", "snap"]. Matched case-insensitively.</summary>
    IReadOnlyList<string> Names { get; }

    /// <summary>One line for the help text, e.g. "拍照 / photo — a fresh photo".</summary>
    string Help { get; }

    WeComCommandAccess Access { get; }

    /// <summary>
    /// Whether text typed straight after a Chinese name, without a space ("开灯", "录像10"), is meant as this command
    /// with <paramref name="arguments"/>. Commands whose names begin ordinary words ("开心", "关于") check it.
    /// </summary>
    bool AcceptsUnspaced(string arguments) => true;

    /// <summary>
    /// Whether running it goes on the timeline (kind <c>wecom</c>): commands that show the picture or change how the
    /// appliance watches (photo, video, live, events, arm, disarm). Not help or status (they change nothing) nor
    /// on/off (their <c>switch</c> event already says who).
    /// </summary>
    bool OnTimeline => false;

    /// <summary>The answer; null for none. Slow answers are delivered later through message/send automatically.</summary>
    Task<WeComMessage?> ExecuteAsync(WeComCommandContext context, CancellationToken cancellationToken);
}

/// <summary>Who asked, with which arguments.</summary>
public sealed record WeComCommandContext(string User, bool IsAdmin, string Arguments, InboundMessage Message);

using System.Globalization;
using System.Text;
using Appliance.Auth;
using Appliance.WeCom;
using Appliance.WeCom.Api;
using Appliance.WeCom.Commands;

namespace Appliance.Events;

/// <summary>
/// 回放 / events: the last five events (local time, kind, what and who), each with a signed link to its place on the
/// /events page. The link is a view link like 直播/live's (LinkSigner): for WeCom:LinkLifetime it grants what a viewer
/// may see (the live picture and the whole timeline), not that one event only.
/// </summary>
internal sealed class EventsCommand(EventStore store, LinkSigner links, WeComOptions options, TimeProvider time, IEnumerable<IPublicBaseUrl> publicUrls) : IWeComCommand
{
    public const int Count = 5;

    public IReadOnlyList<string> Names { get; } = ["回放", "events"];

    public string Help => $"回放 / events — 最近{Count}条事件 the last {Count} events, with links";

    public WeComCommandAccess Access => WeComCommandAccess.Family;

    public bool OnTimeline => true;

    public bool AcceptsUnspaced(string arguments) => arguments.Length == 0;

    public Task<WeComMessage?> ExecuteAsync(WeComCommandContext context, CancellationToken cancellationToken)
    {
        // Before this command's own wecom entry is read back: the dispatcher records it first, so skip it.
        var events = store.List(null, Count + 1, null).Where(e => !(e.Kind == "wecom" && e.Source == "events")).Take(Count).ToList();
        if (events.Count == 0)
        {
            return Task.FromResult<WeComMessage?>(new TextMessage("还没有事件。No events yet."));
        }

        var baseUrl = options.PublicBaseUrl.Length > 0
            ? options.PublicBaseUrl
            : publicUrls.Select(p => p.PublicBaseUrl).FirstOrDefault(u => !string.IsNullOrEmpty(u));
        var text = new StringBuilder("最近事件 Last events:");
        foreach (var entry in events)
        {
            var local = TimeZoneInfo.ConvertTime(entry.Start, time.LocalTimeZone);
            text.Append(CultureInfo.InvariantCulture, $"\n{local:MM-dd HH:mm:ss} {entry.Kind}");
            if (entry.End is { } end && end > entry.Start)
            {
                text.Append(CultureInfo.InvariantCulture, $" {(end - entry.Start).TotalSeconds:0} s");
            }

            if (entry.Source is { Length: > 0 } source)
            {
                text.Append(' ').Append(source);
            }

            if (entry.By is { Length: > 0 } by)
            {
                text.Append(" (").Append(by).Append(')');
            }

            if (!string.IsNullOrEmpty(baseUrl))
            {
                var link = baseUrl.TrimEnd('/') + links.Sign(string.Create(CultureInfo.InvariantCulture, $"/events?id={entry.Id}"), options.LinkLifetime);
                text.Append(CultureInfo.InvariantCulture, $" <a href=\"{link}\">查看 view</a>");
            }
        }

        if (string.IsNullOrEmpty(baseUrl))
        {
            text.Append("\n(没有公网地址，无法附链接 no links: set WeCom:PublicBaseUrl or configure the relay)");
        }

        return Task.FromResult<WeComMessage?>(new TextMessage(text.ToString()));
    }
}

using System.Globalization;
using System.Text;
using Appliance.Auth;
using Appliance.WeCom;
using Appliance.WeCom.Api;
using Appliance.WeCom.Commands;

namespace Appliance.Events;

/// <summary>
/// 回放 / events: the last five events as a WeCom news message, one card each (local time, kind and length; what and
/// who; the recording's thumbnail as the picture), a tap opening its place on the /events page through a signed
/// link; as text without links when there is no public address. The link is a view link like 直播/live's (LinkSigner): for WeCom:LinkLifetime it grants what a viewer
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
        if (string.IsNullOrEmpty(baseUrl))
        {
            // No address WeCom (or a phone away from home) could open: no cards, the list as text and why.
            var text = new StringBuilder("最近事件 Last events:");
            foreach (var entry in events)
            {
                text.Append('\n').Append(Title(entry));
                if (Description(entry) is { Length: > 0 } description)
                {
                    text.Append(' ').Append(description);
                }
            }

            text.Append("\n(没有公网地址，无法附链接 no links: set WeCom:PublicBaseUrl or configure the relay)");
            return Task.FromResult<WeComMessage?>(new TextMessage(text.ToString()));
        }

        // A news message: one card per event, its thumbnail as the picture (fetched by WeCom's servers through the
        // public address, so signed like the link), a tap opens the /events page at that event.
        var root = baseUrl.TrimEnd('/');
        var clips = store.ClipsOf(events.Select(e => e.Id));
        var articles = events.Select(entry =>
        {
            var id = entry.Id.ToString(CultureInfo.InvariantCulture);
            var picture = clips.GetValueOrDefault(entry.Id) is { HasFiles: true, ThumbnailOffset: not null }
                ? root + links.Sign($"/api/events/{id}/thumbnail.jpg", options.LinkLifetime)
                : null;
            return new NewsArticle(Title(entry), Description(entry), root + links.Sign($"/events?id={id}", options.LinkLifetime), picture);
        }).ToList();
        return Task.FromResult<WeComMessage?>(new NewsMessage(articles));
    }

    /// <summary>"12-07 08:04:00 motion 4 s": local time, kind, length.</summary>
    private string Title(EventEntry entry)
    {
        var local = TimeZoneInfo.ConvertTime(entry.Start, time.LocalTimeZone);
        var title = string.Create(CultureInfo.InvariantCulture, $"{local:MM-dd HH:mm:ss} {entry.Kind}");
        return entry.End is { } end && end > entry.Start
            ? title + string.Create(CultureInfo.InvariantCulture, $" {(end - entry.Start).TotalSeconds:0} s")
            : title;
    }

    /// <summary>"porch:on (wecom:dad)": what and who.</summary>
    private static string Description(EventEntry entry)
    {
        var description = entry.Source ?? "";
        if (entry.By is { Length: > 0 } by)
        {
            description += (description.Length > 0 ? " " : "") + "(" + by + ")";
        }

        return description;
    }
}

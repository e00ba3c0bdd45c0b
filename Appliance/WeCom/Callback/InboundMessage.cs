using System.Globalization;

namespace Appliance.WeCom.Callback;

/// <summary>A decrypted callback message or event (flat fields only; nested event details are skipped).</summary>
public sealed record InboundMessage(IReadOnlyDictionary<string, string> Fields)
{
    public string ToUserName => Get("ToUserName");

    public string FromUserName => Get("FromUserName");

    public long CreateTime => long.TryParse(Get("CreateTime"), NumberStyles.None, CultureInfo.InvariantCulture, out var t) ? t : 0;

    public string MsgType => Get("MsgType");

    public string Content => Get("Content");

    public string MsgId => Get("MsgId");

    public string Event => Get("Event");

    public string EventKey => Get("EventKey");

    public string AgentId => Get("AgentID");

    public string MediaId => Get("MediaId");

    /// <summary>WeCom retries carry the same MsgId; events have none, so their sender, time and event name identify them.</summary>
    public string DedupeKey => MsgId.Length > 0
        ? "m:" + MsgId
        : string.Create(CultureInfo.InvariantCulture, $"e:{FromUserName}|{CreateTime}|{Event}|{EventKey}");

    public string Get(string name) => Fields.TryGetValue(name, out var value) ? value : "";
}

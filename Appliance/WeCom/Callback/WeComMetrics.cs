using System.Text.Json.Nodes;
using Appliance.Status;

namespace Appliance.WeCom.Callback;

/// <summary>Counters for /api/status ("wecom") and tests.</summary>
public sealed class WeComMetrics
{
    private long _accepted;
    private long _rejected;
    private long _duplicates;
    private long _passive;
    private long _pushed;
    private long _refused;
    private long _commands;

    public long Accepted => Interlocked.Read(ref _accepted);

    public long Rejected => Interlocked.Read(ref _rejected);

    public long Duplicates => Interlocked.Read(ref _duplicates);

    public void Accept() => Interlocked.Increment(ref _accepted);

    public void Reject() => Interlocked.Increment(ref _rejected);

    public void Duplicate() => Interlocked.Increment(ref _duplicates);

    public void Passive() => Interlocked.Increment(ref _passive);

    public void Pushed() => Interlocked.Increment(ref _pushed);

    public void Refused() => Interlocked.Increment(ref _refused);

    public void Command() => Interlocked.Increment(ref _commands);

    public JsonObject ToJson() => new()
    {
        ["callbacksAccepted"] = Accepted,
        ["callbacksRejected"] = Rejected,
        ["duplicates"] = Duplicates,
        ["passiveReplies"] = Interlocked.Read(ref _passive),
        ["pushedReplies"] = Interlocked.Read(ref _pushed),
        ["refusedUsers"] = Interlocked.Read(ref _refused),
        ["commands"] = Interlocked.Read(ref _commands),
    };
}

/// <summary>Adds "wecom" to /api/status.</summary>
internal sealed class WeComStatusContributor(WeComOptions options, WeComMetrics metrics, IServiceProvider services) : IStatusContributor
{
    public void Contribute(JsonObject status)
    {
        var wecom = metrics.ToJson();
        wecom["configured"] = options.IsConfigured;
        if (options.IsConfigured)
        {
            var http = services.GetRequiredService<Api.WeComHttp>();
            wecom["egress"] = http.Egress;
            wecom["tokenExpiresAt"] = services.GetRequiredService<Api.AccessTokenCache>().ExpiresAt?.ToString("O", System.Globalization.CultureInfo.InvariantCulture);
        }

        status["wecom"] = wecom;
    }
}

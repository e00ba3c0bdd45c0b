using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Appliance.WeCom.Api;
using Appliance.WeCom.Commands;

namespace Appliance.Scoring;

/// <summary>Reference texts waiting for each member's next voice message.</summary>
public sealed class PracticeSessions(ScoringOptions options, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, (string Text, DateTimeOffset Until)> _pending = new(StringComparer.Ordinal);

    public void Set(string user, string text) => _pending[user] = (text, time.GetUtcNow() + options.PracticeLifetime);

    /// <summary>Puts a text back after a voice that got no score, unless the member has set a new one meanwhile.</summary>
    public void Keep(string user, string text) => _pending.TryAdd(user, (text, time.GetUtcNow() + options.PracticeLifetime));

    /// <summary>The member's reference text, removed (the next voice uses it up); null when none or expired.</summary>
    public string? Take(string user) =>
        _pending.TryRemove(user, out var entry) && entry.Until > time.GetUtcNow() ? entry.Text : null;
}

/// <summary>练习 / practice TEXT: the member's next voice message is scored as a read-aloud of TEXT.</summary>
internal sealed class PracticeCommand(PracticeSessions sessions, ScoringOptions options) : IWeComCommand
{
    public const int MaxTextLength = 500;

    public IReadOnlyList<string> Names { get; } = ["练习", "practice"];

    public string Help => "练习 / practice TEXT — 朗读评分 read TEXT aloud in a voice message and get a score";

    public WeComCommandAccess Access => WeComCommandAccess.Family;

    public Task<WeComMessage?> ExecuteAsync(WeComCommandContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var text = context.Arguments.Trim();
        if (!options.IsConfigured)
        {
            return Reply("朗读评分未配置。Speech scoring is not configured on this appliance (Scoring:ScorerUrl).");
        }

        if (text.Length == 0)
        {
            return Reply("用法 Usage: 练习 TEXT, e.g. \"practice The quick brown fox\"; then send a voice message reading it.");
        }

        if (text.Length > MaxTextLength)
        {
            return Reply($"文字太长 The text is too long ({text.Length} characters; at most {MaxTextLength}).");
        }

        sessions.Set(context.User, text);
        return Reply($"请发送语音朗读 Now send a voice message reading:\n{text}");
    }

    private static Task<WeComMessage?> Reply(string text) => Task.FromResult<WeComMessage?>(new TextMessage(text));
}

/// <summary>A member's voice message after 练习/practice: scored through the AMR path, answered with the scores.</summary>
internal sealed class PracticeVoiceHandler(PracticeSessions sessions, RatingService ratings) : IWeComVoiceHandler
{
    public async Task<WeComMessage?> TryHandleAsync(WeComCommandContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (sessions.Take(context.User) is not { } text)
        {
            return null;
        }

        var outcome = await ratings.RateAsync(
            new RatingRequest(context.Message.MediaId, "", ScoringMediaSource.WeCom, Meta: ScoringMeta.ReadAloud(text)), cancellationToken);
        var summary = Summarize(outcome, out var scored);
        if (scored)
        {
            return new TextMessage(summary);
        }

        // No score (busy, the scorer down or refusing, a bad download): the text stays, so another voice is enough.
        sessions.Keep(context.User, text);
        return new TextMessage(summary + "\n练习文字已保留，请重新发送语音。The practice text is kept: send the voice again.");
    }

    /// <summary>Overall, pronunciation, fluency, integrity and the three weakest words, or why there is no score.</summary>
    internal static string Summarize(RatingOutcome outcome, out bool scored)
    {
        scored = false;
        try
        {
            using var answer = JsonDocument.Parse(outcome.Body);
            var root = answer.RootElement;
            var status = root.TryGetProperty("status", out var s) && s.TryGetInt32(out var v) ? v : int.MinValue;
            var message = root.TryGetProperty("msg", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : "";
            if (status != 0 || !root.TryGetProperty("result", out var result) || result.ValueKind != JsonValueKind.String)
            {
                return $"评分失败 Scoring failed (status {status}): {message}";
            }

            using var report = JsonDocument.Parse(Convert.FromBase64String(result.GetString()!));
            var r = report.RootElement;
            var text = new StringBuilder("朗读评分 Your score\n");
            text.Append(CultureInfo.InvariantCulture, $"总分 Overall: {Number(r, "overall")}\n");
            text.Append(CultureInfo.InvariantCulture, $"发音 Pronunciation: {Number(r, "pronunciation")}\n");
            text.Append(CultureInfo.InvariantCulture, $"流利 Fluency: {Number(r, "fluency")}\n");
            text.Append(CultureInfo.InvariantCulture, $"完整 Integrity: {Number(r, "integrity")}");
            var weakest = Words(r).OrderBy(w => w.Score).Take(3).ToList();
            if (weakest.Count > 0)
            {
                text.Append("\n多练 Practise: ").AppendJoin(", ", weakest.Select(w => string.Create(CultureInfo.InvariantCulture, $"{w.Word} ({w.Score:0.#})")));
            }

            scored = true;
            return text.ToString();
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            return $"评分结果无法读取 The scorer's answer could not be read ({ex.Message}).";
        }
    }

    private static string Number(JsonElement report, string name) =>
        report.TryGetProperty(name, out var value) && value.TryGetDouble(out var number) ? number.ToString("0.#", CultureInfo.InvariantCulture) : "–";

    private static IEnumerable<(string Word, double Score)> Words(JsonElement report)
    {
        if (!report.TryGetProperty("words", out var words) || words.ValueKind != JsonValueKind.Array)
        {
            yield break;
        }

        foreach (var word in words.EnumerateArray())
        {
            if (word.ValueKind == JsonValueKind.Object && word.TryGetProperty("word", out var w) && w.ValueKind == JsonValueKind.String
                && word.TryGetProperty("scores", out var scores) && scores.ValueKind == JsonValueKind.Object
                && scores.TryGetProperty("pronunciation", out var p) && p.TryGetDouble(out var score))
            {
                yield return (w.GetString()!, score);
            }
        }
    }
}

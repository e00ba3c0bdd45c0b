using System.Text;

namespace Appliance.WeCom.Commands;

/// <summary>Every registered command by name; resolves "拍照", "photo", "开灯" ("开" + "灯") and "on light".</summary>
public sealed class WeComCommandRegistry
{
    private readonly Dictionary<string, IWeComCommand> _byName = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<(string Name, IWeComCommand Command)> _prefixes = [];

    public WeComCommandRegistry(IEnumerable<IWeComCommand> commands)
    {
        ArgumentNullException.ThrowIfNull(commands);
        Commands = [.. commands];
        foreach (var command in Commands)
        {
            foreach (var name in command.Names)
            {
                // First registration wins, so a feature cannot hijack a built-in name.
                if (_byName.TryAdd(name, command) && !name.All(char.IsAscii))
                {
                    _prefixes.Add((name, command));
                }
            }
        }

        _prefixes.Sort((a, b) => b.Name.Length.CompareTo(a.Name.Length));
    }

    public IReadOnlyList<IWeComCommand> Commands { get; }

    /// <summary>The command and its arguments, or null when the text names no command.</summary>
    public (IWeComCommand Command, string Arguments)? Resolve(string text)
    {
        var trimmed = Normalize(text);
        if (trimmed.Length == 0)
        {
            return null;
        }

        var space = trimmed.IndexOf(' ', StringComparison.Ordinal); // every kind of space is a plain one by now
        var head = space < 0 ? trimmed : trimmed[..space];
        var rest = space < 0 ? "" : trimmed[(space + 1)..].Trim();
        if (_byName.TryGetValue(head, out var command))
        {
            return (command, rest);
        }

        // Chinese is typed without spaces: "开灯", "录像10". A name is also the start of ordinary words ("开心", "关于"),
        // so the command decides whether what follows is meant for it.
        foreach (var (name, prefixed) in _prefixes)
        {
            if (trimmed.StartsWith(name, StringComparison.Ordinal) && prefixed.AcceptsUnspaced(trimmed[name.Length..].Trim()))
            {
                return (prefixed, trimmed[name.Length..].Trim());
            }
        }

        return null;
    }

    /// <summary>
    /// What phone keyboards send, made comparable: full-width letters, digits and signs (ＰＨＯＴＯ, １０, ！) become
    /// ASCII, any kind of space a plain one, and a trailing "!", "。" or "?" is dropped unless it is all there is
    /// ("?" asks for help). Done by hand: with invariant globalization string.Normalize leaves such text as it is.
    /// </summary>
    internal static string Normalize(string? text)
    {
        var folded = string.Create((text ?? "").Length, text ?? "", static (span, source) =>
        {
            for (var i = 0; i < source.Length; i++)
            {
                var c = source[i];
                span[i] = c switch
                {
                    >= '\uFF01' and <= '\uFF5E' => (char)(c - 0xFEE0),
                    _ when char.IsWhiteSpace(c) => ' ',
                    _ => c,
                };
            }
        }).Trim();
        var end = folded.Length;
        while (end > 1 && char.IsPunctuation(folded[end - 1]))
        {
            end--;
        }

        return folded[..end].TrimEnd();
    }

    /// <summary>The commands <paramref name="isAdmin"/> may use, one per line.</summary>
    public string HelpText(bool isAdmin)
    {
        var text = new StringBuilder("可用命令 Commands:\n");
        foreach (var command in Commands.Where(c => isAdmin || c.Access == WeComCommandAccess.Family))
        {
            text.Append("• ").Append(command.Help).Append('\n');
        }

        return text.ToString().TrimEnd();
    }
}

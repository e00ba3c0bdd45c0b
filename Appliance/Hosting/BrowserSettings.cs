using System.Text.Json;
using System.Text.Json.Nodes;

namespace Appliance.Hosting;

/// <summary>
/// What the browser sets (the setup page, the admin's settings page): <see cref="FileName"/> in the state directory,
/// because /etc is read-only under the unit's hardening. It is one more settings layer, read at start after the /etc
/// files and before environment variables and the command line (see <see cref="ApplianceConfiguration"/>): a change made
/// in the browser wins over a file the admin edited earlier, while whoever starts the program (<c>run.sh --Web:Password=…</c>,
/// a unit's <c>Environment=</c>) can still override it for one run. Mode 0600; passwords are stored hashed.
/// </summary>
public sealed class BrowserSettings(StateDirectory state)
{
    public const string FileName = "browser-settings.json";

    private readonly Lock _lock = new();

    public string Path => state.File(FileName);

    /// <summary>Sets (or, with a null value, removes) keys such as <c>Web:PasswordHash</c>, written atomically to the disk.</summary>
    public void Set(IReadOnlyDictionary<string, string?> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        lock (_lock)
        {
            var document = Read(Path) ?? new JsonObject();
            foreach (var (key, value) in values)
            {
                var parts = key.Split(':');
                var parent = document;
                foreach (var part in parts[..^1])
                {
                    if (parent[part] is not JsonObject child)
                    {
                        child = new JsonObject();
                        parent[part] = child;
                    }

                    parent = child;
                }

                if (value is null)
                {
                    parent.Remove(parts[^1]);
                }
                else
                {
                    parent[parts[^1]] = value;
                }
            }

            // A power cut right after the household chose its password must not lose it.
            AtomicFile.WriteAllText(Path, document.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), AtomicFile.OwnerOnly);
        }
    }

    /// <summary>The value this layer holds for <paramref name="key"/> (saved, perhaps not yet in effect), or null.</summary>
    public string? Get(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        lock (_lock)
        {
            JsonNode? node = Read(Path);
            foreach (var part in key.Split(':'))
            {
                node = node is JsonObject o ? o[part] : null;
            }

            return node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;
        }
    }

    /// <summary>
    /// The source that overrides the browser's value of <paramref name="key"/> (an environment variable, the command
    /// line), or null when what the browser sets takes effect.
    /// </summary>
    public static string? OverriddenBy(IConfiguration configuration, string key)
    {
        if (configuration is not IConfigurationRoot root)
        {
            return null;
        }

        var providers = root.Providers.ToList();
        var browser = providers.FindIndex(p => p is Microsoft.Extensions.Configuration.Json.JsonConfigurationProvider { Source.Path: FileName });
        var winner = providers.FindLastIndex(p => p.TryGet(key, out _));
        return browser >= 0 && winner > browser ? Doctor.SettingsSourcesCheck.Describe(providers[winner]).Name : null;
    }

    /// <summary>The layer's file for a state directory (the configuration reads it before the services exist).</summary>
    public static string PathIn(string stateDirectory) => System.IO.Path.Combine(stateDirectory, FileName);

    private static JsonObject? Read(string path)
    {
        try
        {
            return File.Exists(path) ? JsonNode.Parse(File.ReadAllText(path)) as JsonObject : null;
        }
        catch (JsonException)
        {
            return null; // unreachable in practice: the appliance would not have started with a broken layer
        }
    }
}

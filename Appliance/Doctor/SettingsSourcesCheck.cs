namespace Appliance.Doctor;

/// <summary>
/// Where each effective setting came from: someone who set a key in appliance.json and sees no effect learns that the
/// command line or an environment variable overrides it. Keys are named, values never (secrets.json holds passwords).
/// </summary>
internal sealed class SettingsSourcesCheck(IConfiguration configuration) : IDoctorCheck
{
    public string Title => "Settings in effect";

    public Task<DoctorResult> RunAsync(CancellationToken cancellationToken)
    {
        if (configuration is not IConfigurationRoot root)
        {
            return Task.FromResult(DoctorResult.Skip("the settings' sources cannot be listed"));
        }

        var bySource = Winners(root)
            .Where(w => !w.Source.IsDefaults)
            .GroupBy(w => w.Source.Name, StringComparer.Ordinal)
            .Select(g => $"{g.Key}: {string.Join(", ", g.Select(w => w.Key).Order(StringComparer.OrdinalIgnoreCase))}")
            .ToList();
        return Task.FromResult(bySource.Count == 0
            ? DoctorResult.Pass("the built-in defaults only")
            : DoctorResult.Pass("from " + string.Join("; from ", bySource)));
    }

    /// <summary>Every leaf key with the source whose value is in effect (the last one that sets it).</summary>
    internal static IEnumerable<(string Key, SourceName Source)> Winners(IConfigurationRoot root)
    {
        var providers = root.Providers.ToList();
        var defaults = providers.FirstOrDefault(p => Describe(p).IsDefaults);
        foreach (var key in Leaves(root))
        {
            for (var i = providers.Count - 1; i >= 0; i--)
            {
                if (!providers[i].TryGet(key, out var value))
                {
                    continue;
                }

                var source = Describe(providers[i]);
                if (source.Name == EnvironmentName && !IsSetting(key))
                {
                    break; // PATH, HOME …: the process's environment, not a setting
                }

                // The appsettings.json a build copies beside the binary repeats the defaults: a default is a default.
                var isDefault = source.IsDefaults || (defaults is not null && defaults.TryGet(key, out var builtIn) && builtIn == value);
                yield return (key, isDefault ? source with { IsDefaults = true } : source);
                break;
            }
        }
    }

    private const string EnvironmentName = "an environment variable";

    private static bool IsSetting(string key) => key.Contains(':', StringComparison.Ordinal) || key.Equals("Urls", StringComparison.OrdinalIgnoreCase);

    private static IEnumerable<string> Leaves(IConfiguration configuration) =>
        configuration.AsEnumerable(makePathsRelative: false).Where(kv => kv.Value is not null).Select(kv => kv.Key);

    internal readonly record struct SourceName(string Name, bool IsDefaults);

    /// <summary>How the doctor names a settings source (also in a bad key's "set in …").</summary>
    internal static SourceName Describe(IConfigurationProvider provider) => provider switch
    {
        Microsoft.Extensions.Configuration.Json.JsonStreamConfigurationProvider => new("the built-in defaults", true),
        Microsoft.Extensions.Configuration.Json.JsonConfigurationProvider { Source.Path: BrowserSettings.FileName } json =>
            new($"the browser's settings page ({json.Source.FileProvider?.GetFileInfo(BrowserSettings.FileName).PhysicalPath})", false),
        Microsoft.Extensions.Configuration.Json.JsonConfigurationProvider { Source.Path: { } path } json =>
            new(json.Source.FileProvider?.GetFileInfo(path).PhysicalPath ?? path, false),
        Microsoft.Extensions.Configuration.EnvironmentVariables.EnvironmentVariablesConfigurationProvider => new(EnvironmentName, false),
        Microsoft.Extensions.Configuration.CommandLine.CommandLineConfigurationProvider => new("the command line", false),
        _ => new(provider.ToString() ?? "a configuration source", false),
    };
}

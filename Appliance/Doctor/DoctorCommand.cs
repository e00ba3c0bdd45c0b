using System.Text.RegularExpressions;

namespace Appliance.Doctor;

/// <summary>
/// <c>Appliance doctor</c>: builds the appliance exactly as the service would (every feature validates its
/// settings), then runs every <see cref="IDoctorCheck"/> and prints a ✓/✗ checklist. Exit status 1 when a check fails.
/// </summary>
public static partial class DoctorCommand
{
    private static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(20);

    public static int Run(string[] args) =>
        RunAsync(args, Console.Out, CancellationToken.None).GetAwaiter().GetResult();

    /// <param name="customize">Tests add checks here as a feature would in its AddX.</param>
    public static async Task<int> RunAsync(
        string[] args, TextWriter output, CancellationToken cancellationToken, Action<WebApplicationBuilder>? customize = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        await output.WriteLineAsync($"Appliance doctor (as user {Environment.UserName}; run it as the service user with: sudo -u appliance appliance doctor)").ConfigureAwait(false);
        var counts = new Dictionary<DoctorOutcome, int>();

        var (configurationResult, app, configuration) = CheckConfiguration(args, customize);
        await PrintAsync(output, "Configuration", configurationResult, counts).ConfigureAwait(false);

        IEnumerable<IDoctorCheck> checks = app is not null
            ? app.Services.GetServices<IDoctorCheck>()
            : DoctorExtensions.BuiltInChecks(configuration);
        try
        {
            foreach (var check in checks)
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(CheckTimeout);
                DoctorResult result;
                try
                {
                    result = await check.RunAsync(timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    result = DoctorResult.Fail($"no answer within {CheckTimeout.TotalSeconds:0} s");
                }
#pragma warning disable CA1031 // One broken check must not hide the others' results.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    result = DoctorResult.Fail($"the check itself failed: {ex.GetType().Name}: {ex.Message}");
                }

                await PrintAsync(output, check.Title, result, counts).ConfigureAwait(false);
            }

            if (app is null)
            {
                await output.WriteLineAsync("  (checks that features add need a valid configuration; fix it and run the doctor again)").ConfigureAwait(false);
            }
        }
        finally
        {
            if (app is not null)
            {
                await app.DisposeAsync().ConfigureAwait(false);
            }
        }

        var failed = counts.GetValueOrDefault(DoctorOutcome.Fail);
        await output.WriteLineAsync(
            $"{counts.GetValueOrDefault(DoctorOutcome.Pass)} passed, {failed} failed, {counts.GetValueOrDefault(DoctorOutcome.Warn)} warnings, {counts.GetValueOrDefault(DoctorOutcome.Skip)} skipped")
            .ConfigureAwait(false);
        return failed > 0 ? ExitCodes.Failure : ExitCodes.Success;
    }

    private static async Task PrintAsync(TextWriter output, string title, DoctorResult result, Dictionary<DoctorOutcome, int> counts)
    {
        counts[result.Outcome] = counts.GetValueOrDefault(result.Outcome) + 1;
        var mark = result.Outcome switch
        {
            DoctorOutcome.Pass => "✓",
            DoctorOutcome.Fail => "✗",
            DoctorOutcome.Warn => "!",
            _ => "–",
        };
        await output.WriteLineAsync($"{mark} {title}: {result.Detail}").ConfigureAwait(false);
        if (result.Hint is { Length: > 0 } hint)
        {
            await output.WriteLineAsync($"    → {hint}").ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Builds the app as the service would. On failure, says which file (or variable, or argument) set each bad key.
    /// Returns the raw configuration so the built-in checks can still run.
    /// </summary>
    private static (DoctorResult Result, WebApplication? App, IConfiguration Configuration) CheckConfiguration(
        string[] args, Action<WebApplicationBuilder>? customize)
    {
        var files = ApplianceConfiguration.SettingsFiles();
        var present = files.Where(File.Exists).ToArray();
        var read = present.Length == 0 ? "no files in " + ApplianceConfiguration.ConfigDirectory + ", built-in defaults" : string.Join(", ", present);
        IConfigurationRoot raw;
        try
        {
            var builder = new ConfigurationBuilder();
            ApplianceConfiguration.AddSources(builder, args);
            raw = builder.Build();
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or IOException or UnauthorizedAccessException)
        {
            // The other checks still get the environment and the command line.
            var fallback = new ConfigurationBuilder().AddEnvironmentVariables().AddCommandLine(args).Build();
            return (DoctorResult.Fail(Messages(ex), "fix the JSON syntax (a missing comma, quote or brace is typical); LineNumber counts from 0"),
                null, fallback);
        }

        try
        {
            var app = Program.BuildApp(args, b =>
            {
                b.MarkInspectionOnly();
                b.AddDoctorChecks();
                customize?.Invoke(b);
            });
            return (DoctorResult.Pass($"valid (read {read})"), app, raw);
        }
        catch (ConfigurationException ex)
        {
            var lines = ex.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Where(l => l.StartsWith("- ", StringComparison.Ordinal))
                .Select(l => l[2..] + WhereSet(raw, l))
                .ToArray();
            return (DoctorResult.Fail(string.Join("; ", lines), $"edit the key named above (settings files: {string.Join(", ", files)})"), null, raw);
        }
    }

    /// <summary>The messages of an exception and its inner exceptions (the JSON parser's names the line).</summary>
    internal static string Messages(Exception exception)
    {
        var parts = new List<string>();
        for (var e = exception; e is not null; e = e.InnerException)
        {
            parts.Add(e.Message);
        }

        return string.Join(" ", parts);
    }

    /// <summary>" (set in /etc/appliance/appliance.json)" for the first configuration key the message names.</summary>
    private static string WhereSet(IConfigurationRoot configuration, string message)
    {
        foreach (Match match in KeyPattern().Matches(message))
        {
            var key = match.Value;
            foreach (var provider in configuration.Providers.Reverse())
            {
                if (provider.TryGet(key, out _))
                {
                    return $" (set in {SettingsSourcesCheck.Describe(provider).Name})";
                }
            }
        }

        return "";
    }

    [GeneratedRegex(@"\b[A-Z][A-Za-z0-9]*(:[A-Z][A-Za-z0-9]*)+\b")]
    private static partial Regex KeyPattern();
}

using Appliance.Hosting;

namespace Relay.Hosting;

/// <summary>Checks on the relay's settings before it starts, shared by start-up and <c>Relay doctor</c>.</summary>
internal static class RelaySettings
{
    /// <summary>What <see cref="Check"/> found: the options, where state goes, the certificate, and every problem.</summary>
    public sealed record Checked(RelayOptions Options, string StateDirectory, RelayCertificate? Certificate, List<string> Errors);

    /// <summary>Stops the relay (exit 78) when a settings file is there but unreadable, rather than run without its appliances.</summary>
    public static void RequireReadableIfPresent(string file)
    {
        if (SettingsFile.UnreadableReason(file, "root:relay, 640 and 750") is { } unreadable)
        {
            throw new ConfigurationException(Describe([unreadable]));
        }
    }

    /// <summary>The message a <see cref="ConfigurationException"/> carries: one line per problem, each naming its key.</summary>
    public static string Describe(IEnumerable<string> errors) =>
        "The relay cannot start:\n" + string.Concat(errors.Select(e => $"  - {e}\n"));

    /// <summary>
    /// Reads <c>Relay:*</c> and checks what the relay needs before it starts (shared with <c>Relay doctor</c>): valid
    /// options, a state directory it can create, and for any https:// address PEM files that load.
    /// </summary>
    public static Checked Check(IConfiguration configuration)
    {
        var options = new RelayOptions();
        List<string> errors = [];
        try
        {
            configuration.GetSection(RelayOptions.SectionName).Bind(options);
            errors.AddRange(options.Validate());
        }
        catch (InvalidOperationException ex)
        {
            errors.Add(ex.Message);
        }

        var stateDirectory = ResolveStateDirectory(options);
        try
        {
            Directory.CreateDirectory(stateDirectory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            errors.Add($"Relay:StateDirectory '{stateDirectory}' cannot be created: {ex.Message}");
        }

        var urls = configuration[WebHostDefaults.ServerUrlsKey] ?? "";
        if (urls.Contains("https://", StringComparison.OrdinalIgnoreCase) && options.Tls.CertificatePath.Length == 0
            && !configuration.GetSection("Kestrel:Certificates").Exists())
        {
            errors.Add("Urls has an https:// address but the relay has no certificate: set Relay:Tls:CertificatePath and "
                + "Relay:Tls:KeyPath (PEM files, e.g. Let's Encrypt's), or listen on http:// behind nginx or Caddy.");
        }

        if (options.Tls.CertificatePath.Length > 0 && !urls.Contains("https://", StringComparison.OrdinalIgnoreCase)
            && !configuration.GetSection("Kestrel:Endpoints").Exists())
        {
            errors.Add($"Relay:Tls is set but Urls ({(urls.Length > 0 ? urls : "not set")}) has no https:// address, so the "
                + "certificate would not be used: set Urls to e.g. https://0.0.0.0:443.");
        }

        RelayCertificate? certificate = null;
        if (options.Tls.CertificatePath.Length > 0 && options.Tls.KeyPath.Length > 0)
        {
            // Fail at start, not at the first visitor, when the files are wrong.
            certificate = new RelayCertificate(options.Tls);
            if (certificate.LoadError() is { } loadError)
            {
                errors.Add(loadError);
            }
        }

        return new Checked(options, stateDirectory, certificate, errors);
    }

    private static string ResolveStateDirectory(RelayOptions options)
    {
        if (options.StateDirectory.Length > 0)
        {
            return options.StateDirectory;
        }

        if (Environment.GetEnvironmentVariable("STATE_DIRECTORY") is { Length: > 0 } systemd)
        {
            return systemd.Split(':')[0];
        }

        const string system = "/var/lib/relay";
        try
        {
            Directory.CreateDirectory(system);
            var probe = Path.Combine(system, ".write-test");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
            return system;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state", "relay");
        }
    }
}

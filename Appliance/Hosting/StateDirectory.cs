namespace Appliance.Hosting;

/// <summary>
/// The appliance's writable state (secrets it generates, token caches, queues): <c>State:Directory</c>, else
/// systemd's <c>STATE_DIRECTORY</c>, else /var/lib/appliance when writable, else ~/.local/state/appliance.
/// </summary>
public sealed class StateDirectory
{
    public StateDirectory(string path)
    {
        Path = path;
        Directory.CreateDirectory(path);
    }

    public string Path { get; }

    /// <summary>The full path of a file in the state directory.</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Puts this directory's entries on the disk: a file just created or renamed here outlives a power cut.</summary>
    public void Sync() => DiskSync.Directory(Path);

    /// <summary>Reads a secret, creating it with <paramref name="length"/> random bytes (mode 0600) on first use.</summary>
    public byte[] GetOrCreateSecret(string name, int length = 32)
    {
        var path = File(name);
        if (System.IO.File.Exists(path))
        {
            var existing = System.IO.File.ReadAllBytes(path);
            if (existing.Length >= 16)
            {
                return existing;
            }
        }

        var secret = System.Security.Cryptography.RandomNumberGenerator.GetBytes(length);
        // A power cut soon after the first start must not take the secret (and every link signed with it) away.
        AtomicFile.WriteAllBytes(path, secret, AtomicFile.OwnerOnly);
        return secret;
    }

    public static string Resolve(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        if (configuration["State:Directory"] is { Length: > 0 } configured)
        {
            return configured;
        }

        if (Environment.GetEnvironmentVariable("STATE_DIRECTORY") is { Length: > 0 } systemd)
        {
            return systemd.Split(':')[0];
        }

        const string system = "/var/lib/appliance";
        if (IsWritable(system))
        {
            return system;
        }

        var home = Environment.GetEnvironmentVariable("XDG_STATE_HOME") is { Length: > 0 } xdg
            ? xdg
            : System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state");
        return System.IO.Path.Combine(home, "appliance");
    }

    private static bool IsWritable(string path)
    {
        try
        {
            Directory.CreateDirectory(path);
            var probe = System.IO.Path.Combine(path, ".write-test");
            System.IO.File.WriteAllBytes(probe, []);
            System.IO.File.Delete(probe);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}

public static class StateDirectoryExtensions
{
    public static WebApplicationBuilder AddStateDirectory(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var path = StateDirectory.Resolve(builder.Configuration);
        try
        {
            builder.Services.AddSingleton(new StateDirectory(path));
            builder.Services.AddSingleton<BrowserSettings>();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            builder.AddConfigurationError($"State:Directory '{path}' cannot be created or written: {ex.Message}");
        }

        return builder;
    }
}

namespace Appliance.Hosting;

/// <summary>Settings files that are there but unreadable. The Relay links this file.</summary>
internal static class SettingsFile
{
    /// <summary>
    /// Why <paramref name="file"/> cannot be read although it is there, or null when it is readable or absent. The
    /// configuration builder would skip such a file as if absent, silently dropping passwords, keys or appliances.
    /// </summary>
    /// <param name="file">The settings file.</param>
    /// <param name="installedAs">How the package sets it up, for the hint (e.g. "root:relay, 640 and 750").</param>
    public static string? UnreadableReason(string file, string installedAs)
    {
        try
        {
            using var probe = File.OpenRead(file);
            return null;
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (UnauthorizedAccessException ex)
        {
            return $"the settings file {file} is there but this process (user {Environment.UserName}) cannot read it: {ex.Message} "
                + $"Give the service's group read access to it and its directory (the package makes them {installedAs}).";
        }
    }
}

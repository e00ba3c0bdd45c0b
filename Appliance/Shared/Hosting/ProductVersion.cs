using System.Reflection;

namespace Appliance.Hosting;

/// <summary>
/// The product's version: Directory.Build.props' <c>Version</c>, which publish-arm64.sh also gives the .deb packages.
/// The Relay links this file.
/// </summary>
internal static class ProductVersion
{
    /// <summary>The running program's version, e.g. <c>0.19.0</c>.</summary>
    public static string Current { get; } = Of(typeof(ProductVersion).Assembly);

    /// <summary>An assembly's informational version without build metadata (what follows a '+').</summary>
    public static string Of(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        var version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? assembly.GetName().Version?.ToString(3)
            ?? "unknown";
        var metadata = version.IndexOf('+', StringComparison.Ordinal);
        return metadata < 0 ? version : version[..metadata];
    }
}

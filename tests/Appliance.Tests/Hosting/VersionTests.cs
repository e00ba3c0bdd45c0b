using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Appliance.Tests.Infrastructure;

namespace Appliance.Tests.Hosting;

/// <summary>The version comes from one place, Directory.Build.props, and the binary and /api/status show it.</summary>
public sealed partial class VersionTests
{
    /// <summary>The <c>Version</c> line of the repository's Directory.Build.props (publish-arm64.sh reads the same line).</summary>
    internal static string VersionInDirectoryBuildProps()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Appliance.slnx")))
        {
            directory = directory.Parent;
        }

        Assert.NotNull(directory);
        var match = VersionElement().Match(File.ReadAllText(Path.Combine(directory.FullName, "Directory.Build.props")));
        Assert.True(match.Success, "no <Version> in Directory.Build.props");
        return match.Groups[1].Value;
    }

    [Fact]
    public async Task VersionOption_RealProcess_PrintsTheVersionFromDirectoryBuildProps()
    {
        var expected = VersionInDirectoryBuildProps();

        var result = await ExternalProcess.RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "Appliance.dll"), "--version"],
            TimeSpan.FromSeconds(60));

        Assert.Equal(0, result.ExitCode);
        Assert.Equal($"Appliance {expected}\n", result.Stdout);
        Assert.Matches(@"^\d+\.\d+\.\d+", expected); // a Debian version must start with a digit
    }

    [Fact]
    public async Task ApiStatus_Version_IsTheVersionFromDirectoryBuildProps()
    {
        await using var server = await ApplianceServer.StartAsync();
        using var client = server.CreateClient();

        var status = JsonNode.Parse(await client.GetStringAsync(new Uri("/api/status", UriKind.Relative)))!;

        Assert.Equal(VersionInDirectoryBuildProps(), (string?)status["version"]);
    }

    [GeneratedRegex(@"<Version>([^<]+)</Version>")]
    private static partial Regex VersionElement();
}

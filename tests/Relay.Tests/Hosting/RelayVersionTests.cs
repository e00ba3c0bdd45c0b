using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Relay.Tests.Hosting;

/// <summary><c>Relay --version</c> prints Directory.Build.props' Version, the one the .deb packages carry.</summary>
public sealed partial class RelayVersionTests
{
    [Fact]
    public async Task VersionOption_RealProcess_PrintsTheVersionFromDirectoryBuildProps()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Appliance.slnx")))
        {
            directory = directory.Parent;
        }

        Assert.NotNull(directory);
        var expected = VersionElement().Match(await File.ReadAllTextAsync(Path.Combine(directory.FullName, "Directory.Build.props"))).Groups[1].Value;
        Assert.NotEmpty(expected);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Relay.dll"));
        start.ArgumentList.Add("--version");
        start.Environment["RELAY_CONFIG_DIR"] = Directory.CreateTempSubdirectory("relay-version-").FullName;

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);

        Assert.Equal(0, process.ExitCode);
        Assert.Equal($"Relay {expected}\n", await stdout);
    }

    [GeneratedRegex(@"<Version>([^<]+)</Version>")]
    private static partial Regex VersionElement();
}

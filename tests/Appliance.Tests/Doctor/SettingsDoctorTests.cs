using System.Text;
using Appliance.Doctor;
using Appliance.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace Appliance.Tests.Doctor;

public sealed class SettingsDoctorTests
{
    static SettingsDoctorTests()
    {
        // The server's static constructor points APPLIANCE_CONFIG_DIR at an empty directory.
        _ = ApplianceServer.DefaultSettings;
    }

    [Fact]
    public async Task SettingsSources_KeysFromFileAndCommandLine_NamesEachSourceButNoValue()
    {
        var file = Path.Combine(Directory.CreateTempSubdirectory("doctor-settings-").FullName, "appliance.json");
        await File.WriteAllTextAsync(file, """{ "Camera": { "Fps": 12, "Quality": 70 }, "Web": { "Password": "hunter22" } }""");
        var configuration = new ConfigurationBuilder()
            .AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes("""{ "Camera": { "Fps": 30, "Width": 1280 } }""")))
            .AddJsonFile(file)
            .AddCommandLine(["--Camera:Quality=90"])
            .Build();

        var result = await new SettingsSourcesCheck(configuration).RunAsync(CancellationToken.None);

        Assert.Equal(DoctorOutcome.Pass, result.Outcome);
        Assert.Equal($"from {file}: Camera:Fps, Web:Password; from the command line: Camera:Quality", result.Detail);
        Assert.DoesNotContain("hunter22", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SettingsSources_FileRepeatingTheDefaults_CountsAsDefaults()
    {
        var file = Path.Combine(Directory.CreateTempSubdirectory("doctor-settings-").FullName, "appsettings.json");
        await File.WriteAllTextAsync(file, """{ "Camera": { "Fps": 30 } }""");
        var configuration = new ConfigurationBuilder()
            .AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes("""{ "Camera": { "Fps": 30 } }""")))
            .AddJsonFile(file)
            .AddEnvironmentVariables()
            .Build();

        var result = await new SettingsSourcesCheck(configuration).RunAsync(CancellationToken.None);

        Assert.Equal("the built-in defaults only", result.Detail);
    }

    [Fact]
    public async Task Doctor_PasswordOnCommandLine_SaysWhereItCameFrom()
    {
        using var output = new StringWriter();
        var state = Directory.CreateTempSubdirectory("doctor-state-").FullName;
        await DoctorCommand.RunAsync([$"--State:Directory={state}", "--Camera:Source=synthetic", "--Web:Password=pw123456"], output, CancellationToken.None);

        Assert.Contains("✓ Settings in effect: from the command line: Camera:Source, State:Directory, Web:Password", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("✓ Household password: set (Web:Password", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Password_None_WarnsWithTheFixForServiceAndRunSh()
    {
        var result = await new PasswordCheck(new ConfigurationBuilder().Build()).RunAsync(CancellationToken.None);

        Assert.Equal(DoctorOutcome.Warn, result.Outcome);
        Assert.Contains("only this machine", result.Detail, StringComparison.Ordinal);
        Assert.Contains("secrets.json, then sudo systemctl restart appliance", result.Hint, StringComparison.Ordinal);
        Assert.Contains("./Appliance/run.sh --Web:Password=", result.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Password_Hash_Passes()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection([new("Web:PasswordHash", "x")]).Build();

        var result = await new PasswordCheck(configuration).RunAsync(CancellationToken.None);

        Assert.Equal(DoctorOutcome.Pass, result.Outcome);
    }
}

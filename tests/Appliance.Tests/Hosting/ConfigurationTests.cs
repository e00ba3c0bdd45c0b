using Appliance.Hosting;
using Appliance.Tests.Infrastructure;

namespace Appliance.Tests.Hosting;

public sealed class ConfigurationTests
{
    [Theory]
    [InlineData("--Camera:Fps=0", "Camera:Fps")]
    [InlineData("--Camera:Fps=fast", "Camera:Fps")]
    [InlineData("--Camera:Source=webcam", "Camera:Source")]
    [InlineData("--Camera:Source=file", "Camera:File")]
    [InlineData("--Web:PasswordHash=plain", "Web:PasswordHash")]
    [InlineData("--Web:MaxLoginFailures=0", "Web:MaxLoginFailures")]
    [InlineData("--Web:LoginFailureWindow=00:00:00", "Web:LoginFailureWindow")]
    [InlineData("--WeCom:PublicBaseUrl=wss://relay.example.com/", "WeCom:PublicBaseUrl")] // Tunnel:RelayUrl copied: 直播/live links nobody can open
    [InlineData("--WeCom:PublicBaseUrl=/cam", "WeCom:PublicBaseUrl")] // a path, which Uri takes for a file on Linux
    [InlineData("--Motion:Fps=0", "Motion:Fps")]
    [InlineData("--Motion:Masks:0:Width=200", "Motion:Masks:0")]
    public async Task BuildApp_BadSetting_ThrowsNamingTheKey(string setting, string key)
    {
        var ex = await Assert.ThrowsAsync<ConfigurationException>(() => ApplianceServer.StartAsync(setting));
        Assert.Contains(key, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Process_BadSetting_ExitsWith78AndNamesKey()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Appliance.dll");
        var result = await ExternalProcess.RunAsync("dotnet", [dll, "--Camera:Fps=0", "--urls=http://127.0.0.1:0"], TimeSpan.FromSeconds(60),
            new Dictionary<string, string> { [ApplianceConfiguration.ConfigDirectoryVariable] = Directory.CreateTempSubdirectory().FullName });

        Assert.Equal(ExitCodes.ConfigurationError, result.ExitCode);
        Assert.Contains("Camera:Fps must be between 1 and 120 (got 0)", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Process_BrokenSettingsFile_ExitsWith78AndNamesFile()
    {
        var etc = Directory.CreateTempSubdirectory().FullName;
        await File.WriteAllTextAsync(Path.Combine(etc, "appliance.json"), "{ \"Camera\": { \"Fps\": 10, } oops");
        var dll = Path.Combine(AppContext.BaseDirectory, "Appliance.dll");
        var result = await ExternalProcess.RunAsync("dotnet", [dll, "--urls=http://127.0.0.1:0"], TimeSpan.FromSeconds(60),
            new Dictionary<string, string> { [ApplianceConfiguration.ConfigDirectoryVariable] = etc });

        Assert.Equal(ExitCodes.ConfigurationError, result.ExitCode);
        Assert.Contains("appliance.json", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SettingsFile_And_EnvironmentAndCommandLine_AreLayered()
    {
        var etc = Environment.GetEnvironmentVariable(ApplianceConfiguration.ConfigDirectoryVariable)!;
        await using var server = await ApplianceServer.StartAsync("--Camera:Fps=12");
        Assert.Equal(12, server.GetRequiredService<Camera.CameraOptions>().Fps);
        Assert.StartsWith(Path.GetTempPath(), etc, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HashPassword_Verb_PrintsAHashTheAppAccepts()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Appliance.dll");
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(dll);
        start.ArgumentList.Add("hash-password");
        using var process = System.Diagnostics.Process.Start(start)!;
        await process.StandardInput.WriteLineAsync("s3cret");
        process.StandardInput.Close();
        var output = (await process.StandardOutput.ReadToEndAsync()).Trim();
        await process.WaitForExitAsync();

        Assert.Equal(0, process.ExitCode);
        Assert.True(Appliance.Auth.PasswordHasher.Verify("s3cret", output), output);
    }
}

public sealed class ConfigurationLayeringTests
{
    [Fact]
    public async Task Process_EtcFileThenEnvironmentThenCommandLine_LaterWins()
    {
        var etc = Directory.CreateTempSubdirectory().FullName;
        await File.WriteAllTextAsync(Path.Combine(etc, "appliance.json"),
            """{ "Camera": { "Source": "synthetic", "Fps": 7, "Width": 320, "Height": 240, "Quality": 50 } }""");
        await File.WriteAllTextAsync(Path.Combine(etc, "secrets.json"), """{ "Web": { "Password": "from-secrets" } }""");
        var port = FreePort();
        var dll = Path.Combine(AppContext.BaseDirectory, "Appliance.dll");
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { dll, $"--urls=http://127.0.0.1:{port}", "--Camera:Width=352", $"--State:Directory={Directory.CreateTempSubdirectory().FullName}" })
        {
            start.ArgumentList.Add(a);
        }

        start.Environment[ApplianceConfiguration.ConfigDirectoryVariable] = etc;
        start.Environment["Camera__Height"] = "288";   // environment beats the file
        start.Environment["Camera__Width"] = "640";    // the command line beats the environment
        using var process = System.Diagnostics.Process.Start(start)!;
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            System.Text.Json.Nodes.JsonNode? status = null;
            for (var i = 0; i < 150 && status?["resolution"] is null; i++)
            {
                await Task.Delay(200);
                try
                {
                    status = System.Text.Json.Nodes.JsonNode.Parse(await http.GetStringAsync("/api/status"));
                }
                catch (HttpRequestException)
                {
                }
            }

            Assert.NotNull(status);
            Assert.Equal("352x288", (string?)status["resolution"]);
            Assert.Equal(7, (int)status["configuredFps"]!);

            // The password from secrets.json is in force.
            var login = await new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = http.BaseAddress }
                .PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["password"] = "from-secrets" }));
            Assert.Equal(System.Net.HttpStatusCode.Redirect, login.StatusCode);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}

public sealed class MissingLibraryTests
{
    [Fact]
    public async Task Process_LibturbojpegMissing_ExitsWith78AndSaysHowToInstallIt()
    {
        // Hide the library in a private mount namespace (the suite runs as root, see tests/README.md) so dlopen fails
        // exactly as on a Pi without the package.
        var library = (await ExternalProcess.RunAsync("/sbin/ldconfig", ["-p"], TimeSpan.FromSeconds(10))).Stdout
            .Split('\n').First(l => l.Contains("libturbojpeg.so.0", StringComparison.Ordinal)).Split("=> ")[1].Trim();
        var dll = Path.Combine(AppContext.BaseDirectory, "Appliance.dll");
        var state = Directory.CreateTempSubdirectory().FullName;
        var result = await ExternalProcess.RunAsync("unshare",
            ["-m", "sh", "-c", $"mount --bind /dev/null '{library}' && exec dotnet '{dll}' --urls=http://127.0.0.1:0 --State:Directory='{state}'"],
            TimeSpan.FromSeconds(60),
            new Dictionary<string, string> { [ApplianceConfiguration.ConfigDirectoryVariable] = Directory.CreateTempSubdirectory().FullName });

        Assert.Equal(ExitCodes.ConfigurationError, result.ExitCode);
        Assert.Contains("libturbojpeg.so.0 (libjpeg-turbo) was not found; install it with: sudo apt install libturbojpeg0", result.Stderr, StringComparison.Ordinal);
    }
}

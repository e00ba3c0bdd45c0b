using Microsoft.Extensions.Configuration;
using Relay.Hosting;
using Relay.Tests.Infrastructure;

namespace Relay.Tests.Hosting;

/// <summary><c>Relay doctor</c>: the same settings checks as at start, then the listening addresses.</summary>
public sealed class RelayDoctorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("relay-doctor-").FullName;

    [Fact]
    public void Doctor_ValidSettings_PassesEveryCheck()
    {
        var output = new StringWriter();

        var exitCode = RelayDoctor.Run(Arguments("--urls=http://127.0.0.1:0"), output);

        Assert.True(exitCode == 0, output.ToString());
        Assert.Contains("✓ Settings: valid", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("✓ Listen http://127.0.0.1:0", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("3 passed, 0 failed", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Doctor_HttpsWithoutCertificate_FailsNamingTheSettings()
    {
        var output = new StringWriter();

        var exitCode = RelayDoctor.Run(Arguments("--urls=https://127.0.0.1:0"), output);

        Assert.Equal(1, exitCode);
        Assert.Contains("✗ Settings: Urls has an https:// address but the relay has no certificate: set Relay:Tls:CertificatePath",
            output.ToString(), StringComparison.Ordinal);
        Assert.Contains("2 passed, 1 failed", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Doctor_ShortSecret_FailsWithTheStartUpMessage()
    {
        var output = new StringWriter();

        var exitCode = RelayDoctor.Run(
            [$"--Relay:StateDirectory={Path.Combine(_dir, "state")}", "--Relay:Appliances:cam:Secret=short", "--urls=http://127.0.0.1:0"], output);

        Assert.Equal(1, exitCode);
        Assert.Contains("✗ Settings: Relay:Appliances:cam:Secret must be at least 16 characters.", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Doctor_CertificateButNoHttpsAddress_FailsSayingSo()
    {
        var output = new StringWriter();

        var exitCode = RelayDoctor.Run(Arguments(
            "--urls=http://127.0.0.1:0", $"--Relay:Tls:CertificatePath={Path.Combine(_dir, "fullchain.pem")}",
            $"--Relay:Tls:KeyPath={Path.Combine(_dir, "privkey.pem")}"), output);

        Assert.Equal(1, exitCode);
        Assert.Contains("✗ Settings: Relay:Tls is set but Urls (http://127.0.0.1:0) has no https:// address", output.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://cam.example.com", "is not a host name")]
    [InlineData("cam.example.com:8443", "is not a host name")]
    [InlineData("CAM.example.com", "is already the host of cam")]
    public void Doctor_BadApplianceHost_FailsNamingIt(string secondHost, string expected)
    {
        var output = new StringWriter();

        var exitCode = RelayDoctor.Run(Arguments(
            "--urls=http://127.0.0.1:0", "--Relay:Appliances:cam:Hosts:0=cam.example.com",
            "--Relay:Appliances:door:Secret=0123456789abcdef-door", $"--Relay:Appliances:door:Hosts:0={secondHost}"), output);

        Assert.Equal(1, exitCode);
        Assert.Contains($"✗ Settings: Relay:Appliances:door:Hosts: '{secondHost}' {expected}", output.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://qyapi.weixin.qq.com/")]
    [InlineData("qyapi.weixin.qq.com/")]
    [InlineData("qyapi.weixin.qq.com:99999")]
    [InlineData("qyapi.weixin.qq.com:0")]
    [InlineData("qyapi.weixin.qq.com:")]
    [InlineData("qyapi.weixin.qq.com:443:1")]
    [InlineData("::1")]
    [InlineData("[::1")]
    [InlineData("[::1]443")]
    [InlineData("[qyapi.weixin.qq.com]:443")]
    [InlineData("")]
    public void Doctor_BadEgressEntry_FailsNamingIt(string entry)
    {
        var output = new StringWriter();

        var exitCode = RelayDoctor.Run(Arguments(
            "--urls=http://127.0.0.1:0", "--Relay:EgressAllowList:0=api.weixin.qq.com", $"--Relay:EgressAllowList:1={entry}"), output);

        Assert.Equal(1, exitCode);
        Assert.Contains($"✗ Settings: Relay:EgressAllowList:1: '{entry}' is not a host or host:port with a port from 1 to 65535", output.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("EgressAllowList:0", output.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("qyapi.weixin.qq.com", "qyapi.weixin.qq.com", 443)]
    [InlineData("api.example.com:8443", "api.example.com", 8443)]
    [InlineData("127.0.0.1:65535", "127.0.0.1", 65535)]
    [InlineData("localhost:1", "localhost", 1)]
    [InlineData("[::1]", "::1", 443)]
    [InlineData("[2001:db8::1]:8443", "2001:db8::1", 8443)]
    public void EgressEntry_Valid_ParsedToHostAndPort(string entry, string host, int port)
    {
        Assert.True(RelayOptions.TryParseEgressEntry(entry, out var parsedHost, out var parsedPort));
        Assert.Equal((host, port), (parsedHost, parsedPort));
        Assert.Empty(new RelayOptions { EgressAllowList = [entry] }.Validate());
    }

    [Fact]
    public void ExampleSettingsFile_IsValidAndStatesTheRealDefaults()
    {
        // tests/Relay.Tests/bin/Release/net10.0 → the repository's systemd/relay.json.example
        var example = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "systemd", "relay.json.example"));
        var configuration = new ConfigurationBuilder()
            .AddJsonFile(example, optional: false)
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Relay:StateDirectory"] = Path.Combine(_dir, "state") })
            .Build();

        var (options, _, _, errors) = RelaySettings.Check(configuration);

        Assert.Empty(errors);
        var defaults = new RelayOptions();
        Assert.Equal("http://0.0.0.0:8443", configuration["Urls"]);
        Assert.Equal(
            (defaults.AdminUser, defaults.AdminPassword, defaults.TrustProxyHeaders, defaults.StreamLinger, defaults.SnapshotMaxAge,
                defaults.CallbackTimeout, defaults.MaxCallbackBytes, defaults.MaxStoredCallbacks, defaults.MaxClockSkew, defaults.MaxReplayAttempts, defaults.PingInterval, defaults.PingTimeout, defaults.MaxAuthFailures,
                defaults.AuthFailureWindow, defaults.Tls.CertificatePath, defaults.Tls.KeyPath),
            (options.AdminUser, options.AdminPassword, options.TrustProxyHeaders, options.StreamLinger, options.SnapshotMaxAge,
                options.CallbackTimeout, options.MaxCallbackBytes, options.MaxStoredCallbacks, options.MaxClockSkew, options.MaxReplayAttempts, options.PingInterval, options.PingTimeout, options.MaxAuthFailures,
                options.AuthFailureWindow, options.Tls.CertificatePath, options.Tls.KeyPath));
        Assert.Equal(["qyapi.weixin.qq.com", "api.weixin.qq.com"], options.EffectiveEgressAllowList);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string[] Arguments(params string[] extra) =>
        [$"--Relay:StateDirectory={Path.Combine(_dir, "state")}", $"--Relay:Appliances:{RelayServer.Name}:Secret={RelayServer.Secret}", .. extra];
}

using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Relay.Hosting;
using Relay.Tests.Infrastructure;

namespace Relay.Tests.Hosting;

/// <summary>HTTPS served by the relay itself from PEM files (Relay:Tls), on real Kestrel at 127.0.0.1.</summary>
public sealed class RelayTlsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("relay-tls-").FullName;

    private string CertificatePath => Path.Combine(_dir, "fullchain.pem");

    private string KeyPath => Path.Combine(_dir, "privkey.pem");

    [Fact]
    public async Task Https_FromPemFiles_ServesThatCertificate()
    {
        var thumbprint = WritePem("relay one");
        await using var relay = await StartHttpsRelayAsync();

        var (status, seen) = await GetHealthAsync(relay.BaseAddress);

        Assert.Equal("https", relay.BaseAddress.Scheme);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(thumbprint, seen);
    }

    [Fact]
    public async Task Https_EveryAnswer_CarriesHsts_PlainHttpDoesNot()
    {
        WritePem("hsts");
        await using var relay = await StartHttpsRelayAsync();
        using var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null; // the certificate is another test's subject
        using var client = new HttpClient(handler);
        foreach (var path in new[] { "/healthz", "/no-such-page", "/cam/" })
        {
            using var response = await client.GetAsync(new Uri(relay.BaseAddress, path));
            Assert.Equal("max-age=31536000", response.Headers.GetValues("Strict-Transport-Security").Single());
        }

        await using var plain = await RelayServer.StartAsync();
        using var plainClient = new HttpClient();
        using var overHttp = await plainClient.GetAsync(new Uri(plain.BaseAddress, "/healthz"));
        Assert.False(overHttp.Headers.Contains("Strict-Transport-Security"));
    }

    [Fact]
    public async Task Https_CertificateFilesRenewed_NextConnectionGetsTheNewOne()
    {
        var first = WritePem("before renewal");
        await using var relay = await StartHttpsRelayAsync();
        Assert.Equal(first, (await GetHealthAsync(relay.BaseAddress)).Thumbprint);

        var renewed = WritePem("after renewal", DateTime.UtcNow.AddSeconds(5));

        var (status, seen) = await GetHealthAsync(relay.BaseAddress);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(renewed, seen);
    }

    [Fact]
    public async Task Https_RenewalCaughtHalfWritten_KeepsServingTheLastGoodCertificate()
    {
        var good = WritePem("good");
        await using var relay = await StartHttpsRelayAsync();
        Assert.Equal(good, (await GetHealthAsync(relay.BaseAddress)).Thumbprint);

        // A renewal tool has written half of the new certificate so far.
        var pem = File.ReadAllText(CertificatePath);
        File.WriteAllText(CertificatePath, pem[..(pem.Length / 2)]);
        File.SetLastWriteTimeUtc(CertificatePath, DateTime.UtcNow.AddSeconds(5));
        var (status, seen) = await GetHealthAsync(relay.BaseAddress);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(good, seen);

        // Once the files are whole again, the new certificate is served.
        var renewed = WritePem("renewed", DateTime.UtcNow.AddSeconds(10));
        Assert.Equal(renewed, (await GetHealthAsync(relay.BaseAddress)).Thumbprint);
    }

    [Fact]
    public void Certificate_ChangedFilesUnreadable_WarnsOnceAndKeepsTheLastGood()
    {
        var good = WritePem("good");
        var warnings = new WarningRecorder();
        var certificate = new RelayCertificate(new TlsOptions { CertificatePath = CertificatePath, KeyPath = KeyPath }) { Logger = warnings };
        Assert.Null(certificate.LoadError());

        File.WriteAllText(CertificatePath, "-----BEGIN CERTIFICATE-----\nnot base64\n");
        File.SetLastWriteTimeUtc(CertificatePath, DateTime.UtcNow.AddSeconds(5));
        for (var connection = 0; connection < 3; connection++)
        {
            Assert.Equal(good, certificate.Current.Thumbprint);
        }

        var warning = Assert.Single(warnings.Messages);
        Assert.Contains(CertificatePath, warning, StringComparison.Ordinal);
        Assert.Contains("previous one stays in use", warning, StringComparison.Ordinal);

        var renewed = WritePem("renewed", DateTime.UtcNow.AddSeconds(10));
        Assert.Equal(renewed, certificate.Current.Thumbprint);
    }

    [Fact]
    public void Https_WithoutCertificate_RefusesToStartNamingTheSettings()
    {
        var error = Assert.Throws<Appliance.Hosting.ConfigurationException>(() => Program.BuildApp(Arguments("--urls=https://127.0.0.1:0")));

        Assert.Contains("https://", error.Message, StringComparison.Ordinal);
        Assert.Contains("Relay:Tls:CertificatePath", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Https_CertificateFileMissing_RefusesToStartNamingTheFile()
    {
        WritePem("only the key stays");
        File.Delete(CertificatePath);

        var error = Assert.Throws<Appliance.Hosting.ConfigurationException>(() => Program.BuildApp(Arguments(
            "--urls=https://127.0.0.1:0", $"--Relay:Tls:CertificatePath={CertificatePath}", $"--Relay:Tls:KeyPath={KeyPath}")));

        Assert.Contains(CertificatePath, error.Message, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string[] Arguments(params string[] extra) =>
        [$"--Relay:StateDirectory={Path.Combine(_dir, "state")}", $"--Relay:Appliances:{RelayServer.Name}:Secret={RelayServer.Secret}", .. extra];

    private Task<RelayServer> StartHttpsRelayAsync() => RelayServer.StartAsync(
        "--urls=https://127.0.0.1:0", $"--Relay:Tls:CertificatePath={CertificatePath}", $"--Relay:Tls:KeyPath={KeyPath}");

    /// <summary>Writes a fresh self-signed certificate for 127.0.0.1 and its key as PEM; returns its thumbprint.</summary>
    private string WritePem(string commonName, DateTime? writtenAt = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        File.WriteAllText(KeyPath, key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(CertificatePath, certificate.ExportCertificatePem());
        if (writtenAt is { } time)
        {
            // File times can be coarse: make the renewal visible as a change whatever the file system's resolution.
            File.SetLastWriteTimeUtc(KeyPath, time);
            File.SetLastWriteTimeUtc(CertificatePath, time);
        }

        return certificate.Thumbprint;
    }

    private sealed class WarningRecorder : ILogger
    {
        public List<string> Messages { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel == LogLevel.Warning)
            {
                Messages.Add(formatter(state, exception));
            }
        }
    }

    /// <summary>GET /healthz on a new connection; returns the status and the thumbprint of the certificate the relay presented.</summary>
    private static async Task<(HttpStatusCode Status, string? Thumbprint)> GetHealthAsync(Uri baseAddress)
    {
        string? seen = null;
        using var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
        {
            // The test compares the presented certificate with the one it wrote, instead of trusting a CA.
            if (certificate is null)
            {
                return false;
            }

            using var presented = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
            seen = presented.Thumbprint;
            return true;
        };
        using var client = new HttpClient(handler);
        using var response = await client.GetAsync(new Uri(baseAddress, "/healthz"));
        return (response.StatusCode, seen);
    }
}

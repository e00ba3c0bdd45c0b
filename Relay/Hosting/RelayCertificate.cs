using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Relay.Hosting;

/// <summary>
/// The HTTPS certificate from PEM files (Let's Encrypt's fullchain.pem + privkey.pem), re-read when the files change
/// so a renewal needs no restart. Files caught half-written by a renewal do not break HTTPS: the certificate loaded
/// last goes on being served, and the files are tried again when they change.
/// </summary>
internal sealed partial class RelayCertificate(TlsOptions options)
{
    private readonly Lock _gate = new();
    private X509Certificate2? _current;
    private DateTime _loadedStamp;

    /// <summary>Where a failed reload is reported (set once the host is built; the first load is a start-up check).</summary>
    public ILogger? Logger { get; set; }

    /// <summary>The certificate for a new TLS connection.</summary>
    public X509Certificate2 Current
    {
        get
        {
            lock (_gate)
            {
                var stamp = Stamp();
                if (_current is null || stamp != _loadedStamp)
                {
                    try
                    {
                        Load(stamp);
                    }
                    catch (Exception ex) when (IsLoadFailure(ex) && _current is not null)
                    {
                        // Keep serving the last good certificate; the files are tried again when they change.
                        _loadedStamp = stamp;
                        if (Logger is { } logger)
                        {
                            LogReloadFailed(logger, options.CertificatePath, ex.Message);
                        }
                    }
                }

                return _current!; // loaded now, or kept from before (a failed first load has thrown)
            }
        }
    }

    /// <summary>Loads the files now: null when they are usable, else what is wrong with them (for start-up).</summary>
    public string? LoadError()
    {
        lock (_gate)
        {
            try
            {
                Load(Stamp());
                return null;
            }
            catch (Exception ex) when (IsLoadFailure(ex))
            {
                return $"Relay:Tls: cannot load the certificate '{options.CertificatePath}' with the key '{options.KeyPath}': {ex.Message}";
            }
        }
    }

    private void Load(DateTime stamp)
    {
        using var pem = X509Certificate2.CreateFromPemFile(options.CertificatePath, options.KeyPath);
        // Re-import so the key is usable by SslStream on every platform.
        _current = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        _loadedStamp = stamp;
    }

    private DateTime Stamp()
    {
        var stamp = File.GetLastWriteTimeUtc(options.CertificatePath);
        var keyStamp = File.GetLastWriteTimeUtc(options.KeyPath);
        return keyStamp > stamp ? keyStamp : stamp;
    }

    private static bool IsLoadFailure(Exception ex) =>
        ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException;

    [LoggerMessage(Level = LogLevel.Warning, Message = "The changed certificate {Path} cannot be loaded ({Reason}); the previous one stays in use")]
    private static partial void LogReloadFailed(ILogger logger, string path, string reason);
}

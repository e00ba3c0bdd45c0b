using System.Security.Cryptography.X509Certificates;

namespace Relay.Hosting;

/// <summary>
/// The HTTPS certificate from PEM files (Let's Encrypt's fullchain.pem + privkey.pem), re-read when the files change
/// so a renewal needs no restart.
/// </summary>
internal sealed class RelayCertificate(TlsOptions options)
{
    private readonly Lock _gate = new();
    private X509Certificate2? _current;
    private DateTime _loadedStamp;

    public X509Certificate2 Current
    {
        get
        {
            lock (_gate)
            {
                var stamp = File.GetLastWriteTimeUtc(options.CertificatePath);
                var keyStamp = File.GetLastWriteTimeUtc(options.KeyPath);
                if (keyStamp > stamp)
                {
                    stamp = keyStamp;
                }

                if (_current is null || stamp != _loadedStamp)
                {
                    using var pem = X509Certificate2.CreateFromPemFile(options.CertificatePath, options.KeyPath);
                    // Re-import so the key is usable by SslStream on every platform.
                    _current = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
                    _loadedStamp = stamp;
                }

                return _current;
            }
        }
    }
}

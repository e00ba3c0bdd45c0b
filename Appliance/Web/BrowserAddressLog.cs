using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Appliance.Web;

/// <summary>
/// Logs, once the web server listens, the address to open in a browser. Kestrel says "Now listening on:
/// http://0.0.0.0:8080", which is not an address a browser opens; someone who just ran run.sh (or reads
/// <c>journalctl -u appliance</c>) should not have to work it out.
/// </summary>
internal static partial class BrowserAddressLog
{
    public static void Register(WebApplication app)
    {
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
            if (addresses is null)
            {
                return;
            }

            var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(BrowserAddressLog).FullName!);
            var hostName = Environment.MachineName;
            foreach (var address in addresses)
            {
                var (here, fromOthers) = Describe(address, hostName);
                if (fromOthers is null)
                {
                    LogOpenHere(logger, here);
                }
                else
                {
                    LogOpen(logger, here, fromOthers);
                }
            }
        });
    }

    /// <summary>
    /// The address to open on this machine, and the one for other machines on the network (null when the server
    /// listens on loopback only).
    /// </summary>
    internal static (string Here, string? FromOthers) Describe(string listening, string hostName)
    {
        if (!BindingAddress.TryParse(listening, out var scheme, out var host, out var port))
        {
            return (listening, null);
        }

        var wildcard = host is "0.0.0.0" or "[::]" or "::" or "*" or "+";
        if (wildcard)
        {
            return ($"{scheme}://localhost:{port}/", $"{scheme}://{hostName}.local:{port}/");
        }

        var loopback = host is "localhost" || (System.Net.IPAddress.TryParse(host.Trim('[', ']'), out var ip) && System.Net.IPAddress.IsLoopback(ip));
        return loopback ? ($"{scheme}://{host}:{port}/", null) : ($"{scheme}://{host}:{port}/", $"{scheme}://{host}:{port}/");
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Ready: open {Here} in a browser on this machine, or {FromOthers} (or this machine's address) from another one on the network")]
    private static partial void LogOpen(ILogger logger, string here, string fromOthers);

    [LoggerMessage(Level = LogLevel.Information, Message = "Ready: open {Here} in a browser on this machine")]
    private static partial void LogOpenHere(ILogger logger, string here);

    /// <summary>Splits Kestrel's listening address (scheme://host:port) without a Uri's host rules ("+" and "*").</summary>
    private static class BindingAddress
    {
        public static bool TryParse(string address, out string scheme, out string host, out string port)
        {
            scheme = host = port = "";
            var schemeEnd = address.IndexOf("://", StringComparison.Ordinal);
            if (schemeEnd <= 0)
            {
                return false;
            }

            scheme = address[..schemeEnd];
            var rest = address[(schemeEnd + 3)..].TrimEnd('/');
            var colon = rest.LastIndexOf(':');
            if (colon <= 0 || rest.EndsWith(']'))
            {
                return false;
            }

            host = rest[..colon];
            port = rest[(colon + 1)..];
            return port.Length > 0 && port.All(char.IsAsciiDigit);
        }
    }
}

using System.Net;
using System.Net.Sockets;
using Appliance.Hosting;

namespace Relay.Hosting;

/// <summary><c>Relay doctor</c>: the settings load and are valid (as at start), and every listening address can be bound. Exit 1 on a failure.</summary>
internal static class RelayDoctor
{
    public static int Run(string[] args, TextWriter output)
    {
        var failed = 0;
        WebApplicationBuilder builder;
        try
        {
            builder = RelayConfiguration.CreateBuilder(args);
            output.WriteLine($"✓ Configuration: loaded ({string.Join(", ", RelayConfiguration.SettingsFiles.Where(File.Exists).DefaultIfEmpty("built-in defaults"))})");
        }
        catch (ConfigurationException ex) when (ex.InnerException is InvalidDataException)
        {
            output.WriteLine($"✗ Configuration: {ex.Message}");
            output.WriteLine("    → fix the JSON syntax; LineNumber counts from 0");
            output.WriteLine("0 passed, 1 failed");
            return 1;
        }
        catch (ConfigurationException ex)
        {
            output.WriteLine($"✗ Configuration: {ex.Message.Trim()}");
            output.WriteLine("0 passed, 1 failed");
            return 1;
        }

        var errors = RelaySettings.Check(builder.Configuration).Errors;
        output.WriteLine(errors.Count == 0 ? "✓ Settings: valid" : string.Concat(errors.Select(e => $"✗ Settings: {e}\n")).TrimEnd('\n'));
        failed += errors.Count > 0 ? 1 : 0;

        var urls = (builder.Configuration["Urls"] ?? "http://localhost:5000").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var url in urls)
        {
            var result = CheckBind(url);
            output.WriteLine(result is null ? $"✓ Listen {url}: the port is free" : $"✗ Listen {url}: {result}");
            failed += result is null ? 0 : 1;
        }

        output.WriteLine($"{urls.Length + 2 - failed} passed, {failed} failed");
        return failed > 0 ? 1 : 0;
    }

    private static string? CheckBind(string url)
    {
        if (!Uri.TryCreate(url.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out var uri))
        {
            return "not a URL (set Urls like http://0.0.0.0:8443)";
        }

        var address = uri.Host == "localhost" ? IPAddress.Loopback : IPAddress.TryParse(uri.Host.Trim('[', ']'), out var parsed) ? parsed : null;
        if (address is null)
        {
            return $"'{uri.Host}' is not an IP address";
        }

        try
        {
            using var listener = new TcpListener(address, uri.Port);
            listener.Start();
            return null;
        }
        catch (SocketException ex)
        {
            return ex.SocketErrorCode == SocketError.AddressAlreadyInUse
                ? "the port is in use (is the relay already running? systemctl status relay)"
                : $"{ex.Message} (ports below 1024 need CAP_NET_BIND_SERVICE, which relay.service grants)";
        }
    }
}

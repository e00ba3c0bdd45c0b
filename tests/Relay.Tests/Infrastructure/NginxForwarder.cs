using System.Diagnostics;
using System.Globalization;

namespace Relay.Tests.Infrastructure;

/// <summary>
/// What one more loopback hop costs on this machine, with no tunnel: Debian's nginx forwarding plain HTTP/1.1 to the
/// appliance (keep-alive upstream, unbuffered, 256 KiB read buffer). The tunnel adds such a hop and more, so its share
/// of direct throughput is read against this one's. Needs /usr/sbin/nginx (tests/lanes/relay-nginx.apt); loopback only.
/// </summary>
public sealed class NginxForwarder : IAsyncDisposable
{
    private readonly string _directory;
    private readonly Process _nginx;

    private NginxForwarder(string directory, Process nginx, int port)
    {
        _directory = directory;
        _nginx = nginx;
        Port = port;
    }

    /// <summary>Where visitors connect.</summary>
    public int Port { get; }

    public static bool IsAvailable => File.Exists("/usr/sbin/nginx");

    public static async Task<NginxForwarder> StartAsync(int appliancePort)
    {
        var directory = Directory.CreateTempSubdirectory("nginx-hop-").FullName;
        Directory.CreateDirectory(Path.Combine(directory, "logs"));
        var port = AnchorProcess.FreePort();
        var config = Path.Combine(directory, "nginx.conf");
        await File.WriteAllTextAsync(config, string.Create(CultureInfo.InvariantCulture, $$"""
            worker_processes 1;
            daemon off;
            pid {{directory}}/nginx.pid;
            error_log {{directory}}/logs/error.log;
            events { worker_connections 256; }
            http {
              access_log off;
              client_body_temp_path {{directory}}/body;
              proxy_temp_path {{directory}}/proxy;
              upstream appliance { server 127.0.0.1:{{appliancePort}}; keepalive 16; }
              server {
                listen 127.0.0.1:{{port}};
                location / {
                  proxy_pass http://appliance;
                  proxy_http_version 1.1;
                  proxy_set_header Connection "";
                  proxy_buffering off;
                  proxy_buffer_size 256k;
                  proxy_buffers 4 256k;
                  proxy_busy_buffers_size 256k;
                }
              }
            }
            """));
        var nginx = AnchorProcess.Start("/usr/sbin/nginx", "-p", directory, "-c", config);
        await AnchorProcess.WaitForPortAsync(port, nginx);
        return new NginxForwarder(directory, nginx, port);
    }

    public async ValueTask DisposeAsync()
    {
        await AnchorProcess.StopAsync(_nginx);
        Directory.Delete(_directory, recursive: true);
    }
}

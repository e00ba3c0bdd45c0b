using System.Net.Sockets;
using System.Text.Json;
using Camera.Jpeg;
using Camera.Sources;

namespace Appliance.Doctor;

/// <summary>libturbojpeg encodes and decodes every frame.</summary>
internal sealed class TurboJpegCheck : IDoctorCheck
{
    public string Title => "libturbojpeg";

    public Task<DoctorResult> RunAsync(CancellationToken cancellationToken) =>
        Task.FromResult(TurboJpeg.Probe() is { } problem
            ? DoctorResult.Fail(problem, "sudo apt install libturbojpeg0")
            : DoctorResult.Pass("loaded"));
}

/// <summary>rpicam-vid (or libcamera-vid) drives a Pi camera module.</summary>
internal sealed class RpicamCheck(IConfiguration configuration) : IDoctorCheck
{
    public string Title => "Pi camera tools";

    public Task<DoctorResult> RunAsync(CancellationToken cancellationToken)
    {
        var source = configuration["Camera:Source"] ?? "auto";
        var command = configuration["Camera:Command"];
        if (!string.IsNullOrWhiteSpace(command))
        {
            return Task.FromResult(DoctorResult.Pass($"Camera:Command is set ({command})"));
        }

        var tool = RpicamSource.FindDefaultCommand();
        if (tool is not null)
        {
            return Task.FromResult(DoctorResult.Pass($"{tool} found (Camera:Source={source})"));
        }

        const string hint = "for a Pi camera module: sudo apt install rpicam-apps (a USB webcam needs no extra tools)";
        return Task.FromResult(string.Equals(source, "rpicam", StringComparison.OrdinalIgnoreCase)
            ? DoctorResult.Fail("Camera:Source is rpicam but neither rpicam-vid nor libcamera-vid is installed", hint)
            : DoctorResult.Warn($"rpicam-vid not installed (Camera:Source={source})", hint));
    }
}

/// <summary>The writable state directory (generated secrets, caches, queues).</summary>
internal sealed class StateDirectoryCheck(IConfiguration configuration) : IDoctorCheck
{
    public string Title => "State directory";

    public Task<DoctorResult> RunAsync(CancellationToken cancellationToken)
    {
        var path = StateDirectory.Resolve(configuration);
        try
        {
            Directory.CreateDirectory(path);
            var probe = Path.Combine(path, $".doctor-{Environment.ProcessId}");
            File.WriteAllBytes(probe, [1]);
            File.Delete(probe);
            return Task.FromResult(DoctorResult.Pass($"{path} is writable"));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Task.FromResult(DoctorResult.Fail(
                $"{path} is not writable by {Environment.UserName}: {ex.Message}",
                $"sudo install -d -o appliance -g appliance -m 750 {path} (or set State:Directory)"));
        }
    }
}

/// <summary>secrets.json holds passwords and keys: readable by root and the service's group only.</summary>
internal sealed class SecretsFileCheck(string path) : IDoctorCheck
{
    public string Title => "Secrets file";

    public Task<DoctorResult> RunAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            return Task.FromResult(DoctorResult.Skip($"{path} does not exist (no secrets configured)"));
        }

        var mode = File.GetUnixFileMode(path);
        var open = mode & (UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.GroupWrite);
        return Task.FromResult(open == 0
            ? DoctorResult.Pass($"{path} is private ({Octal(mode)})")
            : DoctorResult.Fail($"{path} is readable or writable by others ({Octal(mode)})", $"sudo chown root:appliance {path} && sudo chmod 640 {path}"));
    }

    private static string Octal(UnixFileMode mode) => Convert.ToString((int)mode, 8).PadLeft(4, '0');
}

/// <summary>
/// When WeCom:CorpId and WeCom:Secret are set, asks WeCom for an access token (gettoken) and explains the answer.
/// WeCom hands out the same token while it is valid, so this does not disturb the running service.
/// </summary>
internal sealed class WeComCredentialsCheck(IConfiguration configuration) : IDoctorCheck
{
    public const string DefaultApiBaseUrl = "https://qyapi.weixin.qq.com";

    public string Title => "WeCom credentials";

    public async Task<DoctorResult> RunAsync(CancellationToken cancellationToken)
    {
        var corpId = configuration["WeCom:CorpId"];
        var secret = configuration["WeCom:Secret"];
        if (string.IsNullOrWhiteSpace(corpId) || string.IsNullOrWhiteSpace(secret))
        {
            return DoctorResult.Skip("WeCom:CorpId and WeCom:Secret are not both set");
        }

        var baseUrl = configuration["WeCom:ApiBaseUrl"] is { Length: > 0 } configured ? configured : DefaultApiBaseUrl;
        if (!Uri.TryCreate(baseUrl.TrimEnd('/') + "/", UriKind.Absolute, out var baseUri))
        {
            return DoctorResult.Fail($"WeCom:ApiBaseUrl '{baseUrl}' is not a URL");
        }

        var url = new Uri(baseUri, $"cgi-bin/gettoken?corpid={Uri.EscapeDataString(corpId)}&corpsecret={Uri.EscapeDataString(secret)}");
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        string body;
        try
        {
            using var response = await client.GetAsync(url, cancellationToken).ConfigureAwait(false);
            body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return DoctorResult.Fail($"{baseUri.Host} answered HTTP {(int)response.StatusCode}", "try again later; check WeCom:ApiBaseUrl");
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return DoctorResult.Fail($"cannot reach {baseUri.Host}: {ex.Message}", "check the Pi's internet connection and DNS (ping qyapi.weixin.qq.com)");
        }

        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            var code = root.TryGetProperty("errcode", out var e) && e.TryGetInt32(out var c) ? c : 0;
            var message = root.TryGetProperty("errmsg", out var m) ? m.GetString() : null;
            if (code == 0 && root.TryGetProperty("access_token", out var token) && token.GetString() is { Length: > 0 })
            {
                return DoctorResult.Pass($"gettoken succeeded for corp {corpId}");
            }

            if (code == 60020 && configuration["Tunnel:RelayUrl"] is { Length: > 0 } relay)
            {
                // The doctor asks from the Pi's own address; the running appliance's calls leave through the relay.
                return DoctorResult.Warn(
                    $"gettoken from this Pi's address refused: errcode {code} ({message}); expected with a tunnel",
                    $"the appliance's WeCom calls leave through the relay ({relay}): its address must be in the app's trusted IPs (企业可信IP); the credentials could not be checked from here");
            }

            return DoctorResult.Fail($"gettoken refused: errcode {code} ({message})", code switch
            {
                40013 => "WeCom:CorpId is wrong: copy the 企业ID from My Company (我的企业) in the admin console",
                40001 or 40091 => "WeCom:Secret is wrong: copy the app's Secret from App Management (应用管理) → your app",
                60020 => "this IP is not in the app's trusted IPs (企业可信IP): send API calls through the relay, or add the IP",
                -1 => "WeCom is busy: try again in a minute",
                _ => "see https://developer.work.weixin.qq.com/document/path/90313 for the error code",
            });
        }
        catch (JsonException)
        {
            return DoctorResult.Fail($"{baseUri.Host} did not answer with JSON", "check WeCom:ApiBaseUrl (a proxy or captive portal in between?)");
        }
    }
}

/// <summary>When Tunnel:RelayUrl is set, checks that a TCP connection to the relay's host and port opens.</summary>
internal sealed class RelayReachableCheck(IConfiguration configuration) : IDoctorCheck
{
    public string Title => "Relay";

    public async Task<DoctorResult> RunAsync(CancellationToken cancellationToken)
    {
        var value = configuration["Tunnel:RelayUrl"];
        if (string.IsNullOrWhiteSpace(value))
        {
            return DoctorResult.Skip("Tunnel:RelayUrl is not set (no tunnel)");
        }

        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Host.Length == 0)
        {
            return DoctorResult.Fail($"Tunnel:RelayUrl '{value}' is not a URL", "write it like wss://relay.example.com/ (the relay's address; the tunnel path is added)");
        }

        var port = uri.IsDefaultPort ? uri.Scheme is "wss" or "https" ? 443 : 80 : uri.Port;
        using var client = new TcpClient();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            await client.ConnectAsync(uri.Host, port, timeout.Token).ConfigureAwait(false);
            return DoctorResult.Pass($"{uri.Host}:{port} accepts connections");
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            var reason = ex is OperationCanceledException ? "no answer within 5 s" : ex.Message;
            return DoctorResult.Fail($"cannot connect to {uri.Host}:{port}: {reason}", "is the Relay running on the VPS (systemctl status relay) and its port open in the firewall?");
        }
    }
}

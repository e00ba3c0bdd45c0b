extern alias ApplianceApp;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using ApplianceProgram = ApplianceApp::Appliance.Program;
using TunnelClient = ApplianceApp::Appliance.Tunnel.TunnelClient;
using TunnelState = ApplianceApp::Appliance.Tunnel.TunnelState;
using ITunnelConnectionFeature = ApplianceApp::Appliance.Auth.ITunnelConnectionFeature;
using WebPrincipalExtensions = ApplianceApp::Appliance.Auth.WebPrincipalExtensions;

namespace Relay.Tests.Infrastructure;

/// <summary>The relay on real Kestrel at 127.0.0.1 (port 0 the first time, the same port on restart), with its own state directory.</summary>
public sealed class RelayServer : IAsyncDisposable
{
    public const string Name = "cam";
    public const string Secret = "0123456789abcdef-test-secret";
    public const string WeComToken = "QDG6eK";
    public const string AdminPassword = "admin-pass";

    private WebApplication? _app;

    private RelayServer(string stateDirectory, string[] settings, TimeProvider? time)
    {
        StateDirectory = stateDirectory;
        Settings = settings;
        Time = time;
    }

    public string StateDirectory { get; }

    public string[] Settings { get; }

    /// <summary>The relay's clock when a test gave it one (a FakeTimeProvider); null: the system's.</summary>
    public TimeProvider? Time { get; }

    public Uri BaseAddress { get; private set; } = null!;

    public int Port => BaseAddress.Port;

    public Uri TunnelUrl => new($"ws://127.0.0.1:{Port}/");

    public IServiceProvider Services => _app!.Services;

    public static Task<RelayServer> StartAsync(params string[] settings) => StartAsync(time: null, settings);

    /// <summary>As above, with <paramref name="time"/> as the relay's clock (null: the system's).</summary>
    public static async Task<RelayServer> StartAsync(TimeProvider? time, params string[] settings)
    {
        var server = new RelayServer(Directory.CreateTempSubdirectory("relay-state-").FullName, settings, time);
        await server.StartOnAsync(0);
        return server;
    }

    /// <summary>Starts (again) on <paramref name="port"/>, keeping the state directory.</summary>
    public async Task StartOnAsync(int port)
    {
        string[] args =
        [
            $"--urls=http://127.0.0.1:{port}", $"--Relay:StateDirectory={StateDirectory}", "--Logging:LogLevel:Default=Warning",
            $"--Relay:Appliances:{Name}:Secret={Secret}", $"--Relay:Appliances:{Name}:WeComToken={WeComToken}",
            $"--Relay:AdminPassword={AdminPassword}", "--Relay:StreamLinger=00:00:01", .. Settings,
        ];
        var time = Time;
        _app = Program.BuildApp(args, time is null ? null : builder => builder.Services.AddSingleton(time));
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address);
    }

    public async Task StopAsync()
    {
        if (_app is null)
        {
            return;
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(timeout.Token);
        await _app.DisposeAsync();
        _app = null;
    }

    public async Task RestartAsync()
    {
        var port = Port;
        await StopAsync();
        await StartOnAsync(port);
    }

    public HttpClient CreateClient() =>
        new(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(StateDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>
/// The whole appliance (synthetic camera) on real Kestrel, dialling the relay through its tunnel, plus test-only
/// endpoints: /test/echo (what the appliance believes about the request), /test/raw/… (the request target exactly as
/// it arrived, and its decoded path and query), /test/headers (the request headers as they arrived, before the
/// appliance applies X-Forwarded-*), /test/upload (reads the body, answers its length and SHA-256), /test/bulk?mib=N
/// (a large response) and a fake /wecom/callback that records what arrives (the WeCom feature is built elsewhere).
/// </summary>
public sealed class TunnelledAppliance : IAsyncDisposable
{
    public const string Password = "household-pass";

    /// <summary>The household login (Basic) that the appliance behind the relay accepts.</summary>
    public static AuthenticationHeaderValue FamilyLogin =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("family:" + Password)));

    private readonly WebApplication _app;

    private TunnelledAppliance(WebApplication app, string state, CallbackRecorder callbacks)
    {
        _app = app;
        StateDirectory = state;
        Callbacks = callbacks;
    }

    static TunnelledAppliance()
    {
        var empty = Directory.CreateTempSubdirectory("appliance-etc-").FullName;
        Environment.SetEnvironmentVariable("APPLIANCE_CONFIG_DIR", empty);
    }

    public string StateDirectory { get; }

    public CallbackRecorder Callbacks { get; }

    public TunnelClient Tunnel => _app.Services.GetRequiredService<TunnelClient>();

    public IServiceProvider Services => _app.Services;

    public static async Task<TunnelledAppliance> StartAsync(Uri relay, string name = RelayServer.Name, string secret = RelayServer.Secret,
        CallbackRecorder? callbacks = null, TimeProvider? time = null, params string[] settings)
    {
        var state = Directory.CreateTempSubdirectory("appliance-state-").FullName;
        callbacks ??= new CallbackRecorder();
        string[] args =
        [
            "--urls=http://127.0.0.1:0", $"--State:Directory={state}", "--Logging:LogLevel:Default=Warning",
            "--Camera:Source=synthetic", "--Camera:Width=320", "--Camera:Height=240", "--Camera:Fps=30",
            $"--Web:Password={Password}", $"--Tunnel:RelayUrl={relay}", $"--Tunnel:Name={name}", $"--Tunnel:Secret={secret}", .. settings,
        ];
        var recorder = callbacks;
        var app = ApplianceProgram.BuildApp(args, builder =>
        {
            builder.Services.AddSingleton<IStartupFilter>(new TestEndpoints(recorder));
            if (time is not null)
            {
                builder.Services.AddSingleton(time); // the appliance's own clock (a Pi's, wrong until NTP syncs)
            }
        });
        await app.StartAsync();
        return new TunnelledAppliance(app, state, callbacks);
    }

    /// <summary>The appliance with its real WeCom feature answering /wecom/callback (no test interception).</summary>
    public static Task<TunnelledAppliance> StartWithWeComAsync(Uri relay, params string[] settings) => StartWithWeComAsync(relay, null, settings);

    /// <summary>As above, with the appliance's own clock (e.g. a Pi's wrong clock before NTP syncs).</summary>
    public static async Task<TunnelledAppliance> StartWithWeComAsync(Uri relay, TimeProvider? time, params string[] settings)
    {
        var state = Directory.CreateTempSubdirectory("appliance-state-").FullName;
        string[] args =
        [
            "--urls=http://127.0.0.1:0", $"--State:Directory={state}", "--Logging:LogLevel:Default=Warning",
            "--Camera:Source=synthetic", "--Camera:Width=320", "--Camera:Height=240", "--Camera:Fps=30",
            $"--Web:Password={Password}", $"--Tunnel:RelayUrl={relay}", $"--Tunnel:Name={RelayServer.Name}", $"--Tunnel:Secret={RelayServer.Secret}", .. settings,
        ];
        var app = ApplianceProgram.BuildApp(args, builder =>
        {
            if (time is not null)
            {
                builder.Services.AddSingleton(time);
            }
        });
        await app.StartAsync();
        return new TunnelledAppliance(app, state, new CallbackRecorder());
    }

    public async Task WaitConnectedAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        while (Tunnel.State != TunnelState.Connected)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The tunnel did not come up: {Tunnel.State}, {Tunnel.LastError}");
            }

            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(timeout.Token);
        await _app.DisposeAsync();
        try
        {
            Directory.Delete(StateDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private sealed class TestEndpoints(CallbackRecorder callbacks) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (context, nextMiddleware) =>
            {
                // Runs before the appliance's own pipeline, so it sees the raw request (forwarding not yet applied);
                // /test/echo is answered after it, by a middleware appended at the end (below).
                if (context.Request.Path == "/wecom/callback")
                {
                    using var reader = new StreamReader(context.Request.Body);
                    var body = await reader.ReadToEndAsync();
                    var replayed = context.Request.Headers["X-Relay-Replayed-At"].ToString();
                    callbacks.Record(context.Request.QueryString.Value ?? "", body, replayed, context.Request.Headers["X-Relay-Time-Checked"].ToString());
                    var delay = callbacks.DelayFor?.Invoke(body) ?? callbacks.Delay;
                    if (delay > TimeSpan.Zero)
                    {
                        await Task.Delay(delay, context.RequestAborted);
                    }

                    if (callbacks.AnswerAfter is { } release)
                    {
                        await release.WaitAsync(context.RequestAborted);
                    }

                    context.Response.StatusCode = callbacks.StatusFor?.Invoke(body) ?? StatusCodes.Status200OK;
                    context.Response.ContentType = "text/plain";
                    await context.Response.WriteAsync(callbacks.Answer);
                    return;
                }

                if (context.Request.Path == "/test/headers")
                {
                    context.Response.ContentType = "text/plain";
                    await context.Response.WriteAsync(string.Concat(context.Request.Headers
                        .OrderBy(h => h.Key, StringComparer.OrdinalIgnoreCase)
                        .SelectMany(h => h.Value.Select(v => $"{h.Key.ToLowerInvariant()}: {v}\n"))));
                    return;
                }

                if (context.Request.Path == "/test/upload")
                {
                    using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
                    var chunk = new byte[65536];
                    long length = 0;
                    int read;
                    while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
                    {
                        sha.AppendData(chunk, 0, read);
                        length += read;
                    }

                    context.Response.ContentType = "text/plain";
                    await context.Response.WriteAsync($"length={length}\nsha256={Convert.ToHexStringLower(sha.GetHashAndReset())}");
                    return;
                }

                await nextMiddleware(context);
            });
            next(app);
            app.Run(async context =>
            {
                if (context.Request.Path == "/test/echo")
                {
                    await context.Response.WriteAsync(string.Join('\n',
                        $"remote={context.Connection.RemoteIpAddress}", $"scheme={context.Request.Scheme}", $"host={context.Request.Host}",
                        $"pathbase={context.Request.PathBase}", $"path={context.Request.Path}",
                        $"tunnel={context.Features.Get<ITunnelConnectionFeature>() is not null}",
                        $"local={WebPrincipalExtensions.IsLocal(context)}"));
                    return;
                }

                if (context.Request.Path.StartsWithSegments("/test/raw"))
                {
                    await context.Response.WriteAsync(string.Join('\n',
                        $"raw={context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget}",
                        $"path={context.Request.Path.Value}", $"query={context.Request.QueryString}"));
                    return;
                }

                if (context.Request.Path == "/test/bulk")
                {
                    // A large response for throughput measurements: ?mib=N MiB of filler, written in 64 KiB pieces.
                    var mebibytes = int.Parse(context.Request.Query["mib"].ToString(), System.Globalization.CultureInfo.InvariantCulture);
                    var piece = new byte[65536];
                    context.Response.ContentType = "application/octet-stream";
                    context.Response.ContentLength = (long)mebibytes * 1024 * 1024;
                    for (var i = 0; i < mebibytes * 16; i++)
                    {
                        await context.Response.Body.WriteAsync(piece, context.RequestAborted);
                    }

                    return;
                }

                context.Response.StatusCode = 404;
            });
        };
    }
}

/// <summary>What the fake WeCom callback endpoint received, in order.</summary>
public sealed class CallbackRecorder
{
    private readonly ConcurrentQueue<(string Query, string Body, string ReplayedAt)> _received = new();
    private readonly ConcurrentQueue<string> _timeChecked = new();

    public TimeSpan Delay { get; set; }

    /// <summary>The delay before answering a body (default <see cref="Delay"/>): lets a test hold one message back.</summary>
    public Func<string, TimeSpan>? DelayFor { get; set; }

    /// <summary>When set, answers wait for it (after the delay): lets a test release an answer when its clock says.</summary>
    public Task? AnswerAfter { get; set; }

    public string Answer { get; set; } = "";

    /// <summary>The status answered for a body (default 200): lets a test make one message fail every time.</summary>
    public Func<string, int>? StatusFor { get; set; }

    public IReadOnlyList<(string Query, string Body, string ReplayedAt)> Received => [.. _received];

    /// <summary>The X-Relay-Time-Checked header of each callback received, in order ("" when absent).</summary>
    public IReadOnlyList<string> TimeChecked => [.. _timeChecked];

    public void Record(string query, string body, string replayedAt, string timeChecked)
    {
        _timeChecked.Enqueue(timeChecked);
        _received.Enqueue((query, body, replayedAt));
    }
}

/// <summary>A TCP forwarder between appliance and relay that can freeze (stop moving bytes without closing), like a dead NAT.</summary>
public sealed class FreezableLink : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly int _target;
    private volatile bool _frozen;

    public FreezableLink(int target)
    {
        _target = target;
        _listener.Start();
        _ = AcceptLoopAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public void Freeze() => _frozen = true;

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception)
            {
                return;
            }

            _ = Task.Run(async () =>
            {
                using (client)
                using (var upstream = new TcpClient())
                {
                    await upstream.ConnectAsync(IPAddress.Loopback, _target);
                    var a = PumpAsync(client.GetStream(), upstream.GetStream());
                    var b = PumpAsync(upstream.GetStream(), client.GetStream());
                    await Task.WhenAny(a, b);
                }
            });
        }
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to)
    {
        var buffer = new byte[16384];
        try
        {
            while (true)
            {
                var n = await from.ReadAsync(buffer, _stop.Token);
                if (n == 0)
                {
                    return;
                }

                while (_frozen)
                {
                    // Frozen: hold the bytes forever, like a link that went dark without a FIN.
                    await Task.Delay(100, _stop.Token);
                }

                await to.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
            }
        }
        catch (Exception)
        {
        }
    }

    public ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        _stop.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>The system's clock shifted by an offset, as a Pi's is before NTP syncs; timers run on real time.</summary>
public sealed class ShiftedClock(TimeSpan offset) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + offset;
}

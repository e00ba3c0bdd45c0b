using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Appliance.Tests.Infrastructure;

/// <summary>
/// The whole appliance on real Kestrel at 127.0.0.1:0, with a private state directory and no /etc settings.
/// Extra settings are passed as command-line arguments (<c>--Camera:Fps=10</c>).
/// </summary>
public sealed class ApplianceServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private bool _stopped;

    private ApplianceServer(WebApplication app, string stateDirectory, Uri baseAddress)
    {
        _app = app;
        StateDirectory = stateDirectory;
        BaseAddress = baseAddress;
    }

    static ApplianceServer()
    {
        // Keep the machine's /etc/appliance out of the tests.
        var empty = Directory.CreateTempSubdirectory("appliance-etc-").FullName;
        Environment.SetEnvironmentVariable(global::Appliance.Hosting.ApplianceConfiguration.ConfigDirectoryVariable, empty);
    }

    public Uri BaseAddress { get; }

    public string StateDirectory { get; }

    public IServiceProvider Services => _app.Services;

    public T GetRequiredService<T>()
        where T : notnull => _app.Services.GetRequiredService<T>();

    /// <summary>Small, fast defaults for tests: synthetic 320x240 at 30 fps.</summary>
    public static readonly string[] DefaultSettings =
        ["--Camera:Source=synthetic", "--Camera:Width=320", "--Camera:Height=240", "--Camera:Fps=30"];

    public static Task<ApplianceServer> StartAsync(params string[] settings) => StartAsync(null, settings);

    /// <summary>As above, with <paramref name="customize"/> run on the builder first (extra services for a test).</summary>
    public static async Task<ApplianceServer> StartAsync(Action<WebApplicationBuilder>? customize, params string[] settings)
    {
        var state = Directory.CreateTempSubdirectory("appliance-state-").FullName;
        string[] args = ["--urls=http://127.0.0.1:0", $"--State:Directory={state}", "--Logging:LogLevel:Default=Warning", .. DefaultSettings, .. settings];
        var app = Program.BuildApp(args, customize);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new ApplianceServer(app, state, new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal)));
    }

    public HttpClient CreateClient(bool allowRedirects = false, CookieContainer? cookies = null)
    {
        var handler = new HttpClientHandler { AllowAutoRedirect = allowRedirects };
        if (cookies is not null)
        {
            handler.CookieContainer = cookies;
            handler.UseCookies = true;
        }
        else
        {
            handler.UseCookies = false;
        }

        return new HttpClient(handler) { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>Stops the host as a service stop does, for tests that measure shutdown; disposing then only cleans up.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopped = true;
        await _app.StopAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopped)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _app.StopAsync(timeout.Token);
        }

        await _app.DisposeAsync();
        try
        {
            Directory.Delete(StateDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

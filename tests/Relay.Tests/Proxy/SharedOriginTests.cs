using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Relay.Tests.Infrastructure;

namespace Relay.Tests.Proxy;

/// <summary>Finding 5 of issue 21: appliances under /NAME/ paths of one relay host share one browser origin.</summary>
public sealed class SharedOriginTests
{
    private const string DoorSecret = "door-secret-0123456789abcdef";

    [Fact]
    public async Task TwoAppliancesOnPaths_WithoutTheExplicitSetting_RelayRefusesToStartNamingTheKeys()
    {
        var error = await Assert.ThrowsAsync<Appliance.Hosting.ConfigurationException>(() => RelayServer.StartAsync($"--Relay:Appliances:door:Secret={DoorSecret}"));

        // ConfigurationException: Program.Main's exit 78, as for every settings error.
        Assert.Contains("Relay:Appliances:cam:Hosts is not set", error.Message, StringComparison.Ordinal);
        Assert.Contains("(without host: cam, door)", error.Message, StringComparison.Ordinal);
        Assert.Contains("Relay:AllowSharedOriginPaths=true", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TwoAppliancesOnPaths_Main_Exits78()
    {
        var state = Directory.CreateTempSubdirectory("relay-origin-").FullName;
        var previous = Environment.GetEnvironmentVariable("RELAY_CONFIG_DIR");
        Environment.SetEnvironmentVariable("RELAY_CONFIG_DIR", state);
        try
        {
            var exit = await Program.Main([
                "--urls=http://127.0.0.1:0", $"--Relay:StateDirectory={state}",
                $"--Relay:Appliances:cam:Secret={RelayServer.Secret}", $"--Relay:Appliances:door:Secret={DoorSecret}"]);
            Assert.Equal(78, exit);
        }
        finally
        {
            Environment.SetEnvironmentVariable("RELAY_CONFIG_DIR", previous);
        }
    }

    [Fact]
    public async Task TwoAppliancesOnPaths_WithTheExplicitSetting_StartsWithAWarning()
    {
        var state = Directory.CreateTempSubdirectory("relay-origin-").FullName;
        var lines = new ConcurrentQueue<string>();
        await using var app = Program.BuildApp(
            ["--urls=http://127.0.0.1:0", $"--Relay:StateDirectory={state}", $"--Relay:Appliances:cam:Secret={RelayServer.Secret}",
             $"--Relay:Appliances:door:Secret={DoorSecret}", "--Relay:AllowSharedOriginPaths=true"],
            builder => builder.Logging.AddProvider(new LineCollector(lines)));

        Assert.Single(lines, l => l.StartsWith("Warning:", StringComparison.Ordinal) && l.Contains("Relay:AllowSharedOriginPaths is set", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TwoAppliancesWithHosts_EachOnItsOwnHost_NoPathRoute()
    {
        await using var tunnelled = await RelayWithAppliance.StartAsync([
            $"--Relay:Appliances:{RelayServer.Name}:Hosts:0=cam.example.test",
            $"--Relay:Appliances:door:Secret={DoorSecret}", "--Relay:Appliances:door:Hosts:0=door.example.test"]);
        var relay = tunnelled.Relay;

        var (byHost, _, hostBody) = await RawHttp.SendAsync(relay.Port, "/test/echo", host: "cam.example.test");
        var (byPath, _, pathBody) = await RawHttp.SendAsync(relay.Port, "/cam/test/echo");
        var (unknown, _, unknownBody) = await RawHttp.SendAsync(relay.Port, "/nosuch/test/echo");

        Assert.Equal(HttpStatusCode.OK, byHost);
        Assert.Contains("path=/test/echo", hostBody, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, byPath);
        Assert.Equal((unknown, unknownBody), (byPath, pathBody));
    }

    private sealed class LineCollector(ConcurrentQueue<string> lines) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Logger(lines);

        public void Dispose()
        {
        }

        private sealed class Logger(ConcurrentQueue<string> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                lines.Enqueue($"{logLevel}: {formatter(state, exception)}");
        }
    }
}

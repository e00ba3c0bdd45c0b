using System.Net;
using System.Net.Sockets;
using System.Text;
using Appliance.Auth;
using Appliance.Streaming;
using Appliance.Tests.Infrastructure;
using Appliance.Tests.WeCom;
using Microsoft.Extensions.Logging;
using Tests.Shared;
using Microsoft.Extensions.Time.Testing;

namespace Appliance.Tests.Streaming;

/// <summary>Finding 8 of issue 21: one client or one leaked link could open thousands of streams.</summary>
[Collection(TimingSensitive.Name)]
public sealed class StreamLimitTests
{
    private static Task<HttpResponseMessage> OpenAsync(HttpClient client, string path) =>
        client.GetAsync(path, HttpCompletionOption.ResponseHeadersRead);

    [Fact]
    public async Task Stream_MoreThanMaxStreamsPerClient_Gets429_AndAPlaceFreesWhenOneCloses()
    {
        await using var server = await ApplianceServer.StartAsync("--Web:MaxStreamsPerClient=2");
        using var client = server.CreateClient();
        var first = await OpenAsync(client, "/stream");
        using var second = await OpenAsync(client, "/stream");
        using var third = await OpenAsync(client, "/stream");

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(10), third.Headers.RetryAfter?.Delta);
        Assert.Contains("Too many streams open from this address", await third.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        first.Dispose();
        var limiter = server.GetRequiredService<StreamLimiter>();
        for (var i = 0; i < 100 && limiter.Open > 1; i++)
        {
            await Task.Delay(50);
        }

        using var again = await OpenAsync(client, "/stream");
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }

    [Fact]
    public async Task Stream_MoreThanMaxStreamsPerLink_Gets429_ALoginStillWatches()
    {
        await using var server = await ApplianceServer.StartAsync(
            "--Web:Password=household-pass", "--Web:TrustLoopback=false", "--Web:MaxStreamsPerLink=2", "--Web:MaxStreamsPerClient=10");
        var link = server.GetRequiredService<LinkSigner>().Sign("/stream", TimeSpan.FromMinutes(30));
        using var client = server.CreateClient();
        using var first = await OpenAsync(client, link);
        using var second = await OpenAsync(client, link);
        using var third = await OpenAsync(client, link);
        using var login = new HttpRequestMessage(HttpMethod.Get, "/stream")
        {
            Headers = { Authorization = new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("family:household-pass"))) },
        };
        using var byLogin = await client.SendAsync(login, HttpCompletionOption.ResponseHeadersRead);

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.OK],
            [first.StatusCode, second.StatusCode, third.StatusCode, byLogin.StatusCode]);
        Assert.Contains("Too many streams open with this link", await third.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stream_MoreThanMaxStreams_Gets503()
    {
        await using var server = await ApplianceServer.StartAsync("--Web:MaxStreams=2", "--Web:MaxStreamsPerClient=10");
        using var client = server.CreateClient();
        using var first = await OpenAsync(client, "/stream");
        using var second = await OpenAsync(client, "/stream");
        using var third = await OpenAsync(client, "/stream");

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.ServiceUnavailable], [first.StatusCode, second.StatusCode, third.StatusCode]);
        Assert.NotNull(third.Headers.RetryAfter);
    }

    [Fact]
    public async Task Connections_MoreThanMaxConnections_ClosedUnanswered_OneLogLine_APlaceFreesWhenOneCloses()
    {
        var logs = new CapturingLoggerProvider();
        await using var server = await ApplianceServer.StartAsync(logs.Install, "--Web:MaxConnections=2");
        var port = server.BaseAddress.Port;
        using var first = new TcpClient();
        using var second = new TcpClient();
        await first.ConnectAsync(IPAddress.Loopback, port);
        await second.ConnectAsync(IPAddress.Loopback, port);
        Assert.Equal("HTTP/1.1", await HealthProbe.AskAsync(second));

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("", await HealthProbe.ConnectAndAskAsync(port));
        }

        Assert.Single(logs.Lines, l => l.Contains("connections are open, the most this server keeps", StringComparison.Ordinal));

        first.Dispose();
        Assert.Equal("HTTP/1.1", await HealthProbe.AskUntilAnsweredAsync(port, TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public void Limiter_Refusals_LoggedOnceAMinuteWithTheCountHeldBack()
    {
        var logs = new CapturingLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 0, 0, 0, TimeSpan.Zero));
        var limiter = new StreamLimiter(1, 1, 100, factory.CreateLogger("test"), time);
        using var held = limiter.TryAddClient("203.0.113.7", out _);

        for (var i = 0; i < 50; i++)
        {
            Assert.Null(limiter.TryAddClient("203.0.113.7", out var refusal));
            Assert.Equal(StreamRefusal.Client, refusal);
        }

        Assert.Single(logs.Lines);
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Null(limiter.TryAddClient("203.0.113.7", out _));
        Assert.Equal(2, logs.Lines.Count);
        Assert.Contains("49 more refusals", logs.Lines.Last(), StringComparison.Ordinal);
        Assert.NotNull(limiter.TryAddClient("203.0.113.8", out _));
    }
}

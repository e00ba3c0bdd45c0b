using System.Net;
using Appliance.Auth;
using Appliance.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using static Appliance.Tests.Auth.LoginRequests;

namespace Appliance.Tests.Auth;

/// <summary>
/// Issue 21, finding 9: a stranger's flood of wrong passwords must not flood the journal. The appliance runs on real
/// Kestrel with the shipped log levels (appsettings.json: Information, Microsoft.AspNetCore at Warning) and every line
/// it writes is collected; the limiter's clock (which also times the log throttle) is moved by hand.
/// </summary>
public sealed class LoginLogFloodTests
{
    private const string Password = "correct horse";
    private const string Guesser = "203.0.113.7";
    private const int Flood = 200;
    private static readonly string Hash = PasswordHasher.Hash(Password, 1000);

    [Fact]
    public async Task WrongPasswords_200FromOneAddressAnd200FromManyAddresses_LogOneLineEachKindAMinute_WithTheCountHeldBack()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 0, 0, 0, TimeSpan.Zero));
        var log = new LogLines();
        await using var server = await ApplianceServer.StartAsync(
            builder =>
            {
                SimulatedTunnel.Install(builder);
                builder.Logging.AddProvider(log);
                builder.Services.AddSingleton(sp => new LoginFailureLimiter(
                    sp.GetRequiredService<WebAuthOptions>(), clock, sp.GetRequiredService<ILogger<LoginFailureLimiter>>()));
            },
            $"--Web:PasswordHash={Hash}", "--Web:MaxLoginFailures=3", "--Web:MaxPasswordChecksPerSecond=1000",
            "--Logging:LogLevel:Default=Information", "--Logging:LogLevel:Microsoft.AspNetCore=Warning");
        using var client = server.CreateClient();
        var mark = log.All.Count;

        // One address, form and HTTP Basic in turn: 3 wrong passwords are checked, the other 197 refused unchecked.
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < Flood; i++)
        {
            using var response = await client.SendAsync(i % 2 == 0 ? Form(Guesser, "wrong") : Basic(Guesser, "wrong"));
            statuses.Add(response.StatusCode);
        }

        Assert.Equal(Flood - 3, statuses.Count(s => s == HttpStatusCode.TooManyRequests));

        // 200 addresses, one wrong password each: every one is checked (a first try is never refused).
        for (var i = 0; i < Flood; i++)
        {
            using var response = await client.SendAsync(i % 2 == 0 ? Form($"2001:db8:{i:x}::1", "wrong") : Basic($"2001:db8:{i:x}::1", "wrong"));
            Assert.NotEqual(HttpStatusCode.TooManyRequests, response.StatusCode);
        }

        // 400 attempts, 203 wrong passwords checked and 197 refused: one line of each kind, nothing else.
        var flood = log.Since(mark);
        Assert.True(flood.Count == 2, "lines written during the flood:\n" + string.Join('\n', flood));
        Assert.Single(flood, l => l.Contains("Wrong password (login form) from " + Guesser + " (0 more", StringComparison.Ordinal));
        Assert.Single(flood, l => l.Contains("Refusing a password attempt from " + Guesser, StringComparison.Ordinal) && l.Contains("(0 more refusals", StringComparison.Ordinal));

        // A minute later the next of each kind is logged, with how many were held back meanwhile.
        clock.Advance(TimeSpan.FromMinutes(1));
        mark = log.All.Count;
        (await client.SendAsync(Form("198.51.100.9", "wrong"))).Dispose();
        (await client.SendAsync(Form(Guesser, Password))).Dispose();
        var after = log.Since(mark);
        Assert.True(after.Count == 2, "lines written a minute later:\n" + string.Join('\n', after));
        Assert.Single(after, l => l.Contains("Wrong password (login form) from 198.51.100.9 (202 more wrong passwords since the last such line)", StringComparison.Ordinal));
        Assert.Single(after, l => l.Contains("Refusing a password attempt from " + Guesser, StringComparison.Ordinal) && l.Contains("(196 more refusals since the last such line)", StringComparison.Ordinal));
    }
}

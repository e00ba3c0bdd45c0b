using System.Net;
using Appliance.Auth;
using Appliance.Tests.Hardware;
using Appliance.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using static Appliance.Tests.Auth.LoginRequests;

namespace Appliance.Tests.Auth;

/// <summary>
/// Password guessing is limited per client address. Visitors arrive through a simulated relay tunnel, each with their
/// own X-Forwarded-For; the limiter's clock is moved by hand, so nothing here waits out a window.
/// </summary>
public sealed class LoginFailureLimitTests
{
    private const string Password = "correct horse";
    private const string Visitor = "203.0.113.7";
    private const string OtherVisitor = "198.51.100.9";
    private static readonly string Hash = PasswordHasher.Hash(Password, 1000);
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Form_WrongPasswordsUpToTheLimit_ThenRefused429WithRetryAfterEvenForTheRightOne()
    {
        await using var server = await StartAsync(new FakeTimeProvider(Start));
        using var client = server.CreateClient();

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(Form(Visitor, "wrong"))).StatusCode);
        }

        var refused = await client.SendAsync(Form(Visitor, Password));
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal(TimeSpan.FromMinutes(15), refused.Headers.RetryAfter?.Delta);
        Assert.Contains("Wait 15 minutes", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(refused.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task Basic_WrongPasswordsUpToTheLimit_ThenRefused429WithoutCheckingTheRightOne()
    {
        await using var server = await StartAsync(new FakeTimeProvider(Start));
        using var client = server.CreateClient();

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(Basic(Visitor, "wrong"))).StatusCode);
        }

        // The right password would be let in had it been checked.
        var refused = await client.SendAsync(Basic(Visitor, Password));
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal(TimeSpan.FromMinutes(15), refused.Headers.RetryAfter?.Delta);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.SendAsync(Basic(Visitor, "wrong"))).StatusCode);
    }

    [Fact]
    public async Task FormAndBasic_Failures_CountTogether()
    {
        await using var server = await StartAsync(new FakeTimeProvider(Start));
        using var client = server.CreateClient();

        Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(Form(Visitor, "wrong"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(Basic(Visitor, "wrong"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(Form(Visitor, "wrong"))).StatusCode);

        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.SendAsync(Basic(Visitor, Password))).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.SendAsync(Form(Visitor, Password))).StatusCode);
    }

    [Fact]
    public async Task OtherAddress_WhileOneIsRefused_StillLogsIn()
    {
        await using var server = await StartAsync(new FakeTimeProvider(Start));
        using var client = server.CreateClient();
        for (var i = 0; i < 3; i++)
        {
            await client.SendAsync(Form(Visitor, "wrong"));
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.SendAsync(Form(Visitor, Password))).StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await client.SendAsync(Form(OtherVisitor, Password))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Basic(OtherVisitor, Password))).StatusCode);
    }

    [Fact]
    public async Task Window_Passes_RefusedAddressMayLogInAgain()
    {
        var clock = new FakeTimeProvider(Start);
        await using var server = await StartAsync(clock);
        using var client = server.CreateClient();
        for (var i = 0; i < 3; i++)
        {
            await client.SendAsync(Form(Visitor, "wrong"));
        }

        clock.Advance(TimeSpan.FromMinutes(15) - TimeSpan.FromSeconds(1));
        var stillRefused = await client.SendAsync(Form(Visitor, Password));
        Assert.Equal(HttpStatusCode.TooManyRequests, stillRefused.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), stillRefused.Headers.RetryAfter?.Delta);

        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(HttpStatusCode.Redirect, (await client.SendAsync(Form(Visitor, Password))).StatusCode);
    }

    [Fact]
    public async Task RightPassword_BeforeTheLimit_ClearsTheCount()
    {
        await using var server = await StartAsync(new FakeTimeProvider(Start));
        using var client = server.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(Form(Visitor, "wrong"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(Basic(Visitor, "wrong"))).StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await client.SendAsync(Form(Visitor, Password))).StatusCode);

        // A fresh allowance: three more wrong ones before the refusal.
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(Form(Visitor, "wrong"))).StatusCode);
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.SendAsync(Form(Visitor, "wrong"))).StatusCode);
    }

    [Fact]
    public async Task ParallelWrongLogins_OnlyTheLimitAreChecked()
    {
        await using var server = await StartAsync(new FakeTimeProvider(Start), "--Web:MaxLoginFailures=10");
        using var client = server.CreateClient();

        var responses = await Task.WhenAll(Enumerable.Range(0, 30).Select(i =>
            client.SendAsync(i % 2 == 0 ? Form(Visitor, "wrong") : Basic(Visitor, "wrong"))));

        Assert.Equal(10, responses.Count(r => r.StatusCode == HttpStatusCode.Unauthorized));
        Assert.Equal(20, responses.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests));
    }

    [Fact]
    public async Task ForwardedFor_OutsideTheTunnel_DoesNotMakeAFreshAddress()
    {
        await using var server = await StartAsync(new FakeTimeProvider(Start), "--Web:TrustLoopback=false");
        using var client = server.CreateClient();

        for (var i = 1; i <= 3; i++)
        {
            var request = Form(null, "wrong");
            request.Headers.Add("X-Forwarded-For", $"192.0.2.{i}");
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(request)).StatusCode);
        }

        var claimed = Form(null, Password);
        claimed.Headers.Add("X-Forwarded-For", "192.0.2.99");
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.SendAsync(claimed)).StatusCode);
    }

    [Fact]
    public async Task TrustedLoopback_IsNotLimited()
    {
        await using var server = await StartAsync(new FakeTimeProvider(Start));
        using var client = server.CreateClient();

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(Form(null, "wrong"))).StatusCode);
        }

        Assert.Equal(HttpStatusCode.Redirect, (await client.SendAsync(Form(null, Password))).StatusCode);
    }

    [Fact]
    public void Limiter_TableFull_RefusesNewAddressesAndNeverForgetsABlockedOne()
    {
        // Before: 4,100 single guesses from distinct addresses evicted a blocked one, which got fresh attempts.
        var clock = new FakeTimeProvider(Start);
        var limiter = NewLimiter(clock, max: 2);
        var blocked = IPAddress.Parse(Visitor);
        Assert.True(limiter.TryBeginAttempt(blocked, out _));
        Assert.True(limiter.TryBeginAttempt(blocked, out _));
        Assert.False(limiter.TryBeginAttempt(blocked, out _));

        var refusedNewcomers = 0;
        for (var i = 0; i < LoginFailureLimiter.MaxTrackedAddresses + 500; i++)
        {
            if (!limiter.TryBeginAttempt(new IPAddress(0x0A000000u + (uint)i), out var wait))
            {
                refusedNewcomers++;
                Assert.True(wait > TimeSpan.Zero);
            }

            Assert.True(limiter.TrackedAddresses <= LoginFailureLimiter.MaxTrackedAddresses);
        }

        Assert.Equal(501, refusedNewcomers); // the table was full: newcomers refused, nobody forgotten
        Assert.False(limiter.TryBeginAttempt(blocked, out _));

        // Once the window has passed, entries expire and there is room again.
        clock.Advance(TimeSpan.FromMinutes(15));
        Assert.True(limiter.TryBeginAttempt(IPAddress.Parse(OtherVisitor), out _));
        Assert.True(limiter.TryBeginAttempt(blocked, out _));
        Assert.Equal(2, limiter.TrackedAddresses);
    }

    [Fact]
    public void Limiter_Ceiling_SlowsRepeatGuessesFromManyAddressesButNeverAFirstTry()
    {
        // Before: 400 guesses from 40 addresses were all checked. Now after each address's first try, repeated
        // guesses share the global ceiling (5 a second here, on a clock that does not move).
        var clock = new FakeTimeProvider(Start);
        var limiter = new LoginFailureLimiter(
            new WebAuthOptions { MaxLoginFailures = 10, MaxPasswordChecksPerSecond = 5 }, clock, NullLogger<LoginFailureLimiter>.Instance);
        var checkedGuesses = 0;
        for (var round = 0; round < 10; round++)
        {
            for (var a = 0; a < 40; a++)
            {
                checkedGuesses += limiter.TryBeginAttempt(IPAddress.Parse($"2001:db8:{a}::1"), out _) ? 1 : 0;
            }
        }

        Assert.Equal(40, checkedGuesses); // the first try of each; the ceiling was spent by them

        // A family member's first try from an address with no failures is still checked, and so is a correct one.
        Assert.True(limiter.TryBeginAttempt(IPAddress.Parse(OtherVisitor), out _));

        // A second later there is one second's worth of checks again.
        clock.Advance(TimeSpan.FromSeconds(1));
        var again = Enumerable.Range(0, 40).Count(a => limiter.TryBeginAttempt(IPAddress.Parse($"2001:db8:{a}::1"), out _));
        Assert.Equal(5, again);
    }

    [Fact]
    public async Task Ceiling_Reached_AddressWithFailuresGets429_CleanAddressLogsIn()
    {
        var clock = new FakeTimeProvider(Start);
        await using var server = await StartAsync(clock, "--Web:MaxPasswordChecksPerSecond=2", "--Web:MaxLoginFailures=10");
        using var client = server.CreateClient();
        for (var i = 0; i < 3; i++)
        {
            await client.SendAsync(Form($"192.0.2.{i + 1}", "wrong"));
        }

        var repeat = await client.SendAsync(Form("192.0.2.1", Password));
        Assert.Equal(HttpStatusCode.TooManyRequests, repeat.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), repeat.Headers.RetryAfter?.Delta);
        Assert.Equal(HttpStatusCode.Redirect, (await client.SendAsync(Form(OtherVisitor, Password))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Basic("198.51.100.10", Password))).StatusCode);
    }

    [Fact]
    public async Task Basic_AcceptedHeaderInTheCache_DoesNotLetABlockedAddressIn()
    {
        // Before: while a camera was logged in with Basic, a blocked address got 200 for the right password (the
        // cache of the accepted header was looked at before the limiter) and 429 for wrong ones.
        await using var server = await StartAsync(new FakeTimeProvider(Start));
        using var client = server.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Basic(OtherVisitor, Password))).StatusCode);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(Basic(Visitor, "wrong"))).StatusCode);
        }

        var refused = await client.SendAsync(Basic(Visitor, Password));
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Basic(OtherVisitor, Password))).StatusCode);
    }

    [Fact]
    public void Limiter_IPv6_CountsPerSlash64AndMappedIPv4AsIPv4()
    {
        var limiter = NewLimiter(new FakeTimeProvider(Start), max: 2);

        Assert.True(limiter.TryBeginAttempt(IPAddress.Parse("2001:db8:1:2::1"), out _));
        Assert.True(limiter.TryBeginAttempt(IPAddress.Parse("2001:db8:1:2:ffff::9"), out _));
        Assert.False(limiter.TryBeginAttempt(IPAddress.Parse("2001:db8:1:2:abcd::1"), out var wait));
        Assert.Equal(TimeSpan.FromMinutes(15), wait);
        Assert.True(limiter.TryBeginAttempt(IPAddress.Parse("2001:db8:1:3::1"), out _));

        Assert.True(limiter.TryBeginAttempt(IPAddress.Parse(Visitor), out _));
        Assert.True(limiter.TryBeginAttempt(IPAddress.Parse(Visitor).MapToIPv6(), out _));
        Assert.False(limiter.TryBeginAttempt(IPAddress.Parse(Visitor), out _));
    }

    private static LoginFailureLimiter NewLimiter(TimeProvider clock, int max) =>
        new(new WebAuthOptions { MaxLoginFailures = max }, clock, NullLogger<LoginFailureLimiter>.Instance);

    /// <summary>The appliance with a password, a limit of 3 and the limiter on <paramref name="clock"/>.</summary>
    private static Task<ApplianceServer> StartAsync(FakeTimeProvider clock, params string[] settings) =>
        ApplianceServer.StartAsync(
            builder =>
            {
                SimulatedTunnel.Install(builder);
                builder.Services.AddSingleton(sp => new LoginFailureLimiter(
                    sp.GetRequiredService<WebAuthOptions>(), clock, sp.GetRequiredService<ILogger<LoginFailureLimiter>>()));
            },
            [$"--Web:PasswordHash={Hash}", "--Web:MaxLoginFailures=3", "--Web:MaxPasswordChecksPerSecond=1000", .. settings]);
}

using Appliance.Doctor;
using Microsoft.Extensions.Configuration;

namespace Appliance.Tests.Doctor;

/// <summary>Issue 21, finding 5: the doctor warns when the appliance is reached under a path prefix (a shared origin).</summary>
public sealed class PublicOriginCheckTests
{
    private static Task<DoctorResult> RunAsync(params (string Key, string Value)[] settings) =>
        new PublicOriginCheck(new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => KeyValuePair.Create(s.Key, (string?)s.Value))).Build())
            .RunAsync(CancellationToken.None);

    [Fact]
    public async Task Tunnel_ReachedUnderTheRelaysPath_Warns()
    {
        var result = await RunAsync(("Tunnel:RelayUrl", "wss://relay.example.com/"), ("Tunnel:Name", "cam"));

        Assert.Equal(DoctorOutcome.Warn, result.Outcome);
        Assert.Contains("https://relay.example.com/cam/", result.Detail, StringComparison.Ordinal);
        Assert.Contains("Relay:Appliances:NAME:Hosts", result.Hint, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://relay.example.com/cam", DoctorOutcome.Warn)]
    [InlineData("https://cam.example.com", DoctorOutcome.Pass)]
    [InlineData("https://cam.example.com/", DoctorOutcome.Pass)]
    public async Task PublicBaseUrl_WithAPathPrefix_Warns_OwnHostPasses(string url, DoctorOutcome expected)
    {
        var result = await RunAsync(("WeCom:PublicBaseUrl", url), ("Tunnel:RelayUrl", "wss://relay.example.com/"), ("Tunnel:Name", "cam"));

        Assert.Equal(expected, result.Outcome);
    }

    [Fact]
    public async Task NoTunnel_NoPublicAddress_Skipped()
    {
        Assert.Equal(DoctorOutcome.Skip, (await RunAsync()).Outcome);
    }
}

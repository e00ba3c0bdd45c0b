using Appliance.Tunnel;

namespace Appliance.Tests.Tunnel;

public sealed class TunnelIntegrationTests
{
    [Theory]
    [InlineData("wss://relay.example.com/", "home", "https://relay.example.com/home")]
    [InlineData("wss://relay.example.com:8443/base/", "home", "https://relay.example.com:8443/base/home")]
    [InlineData("ws://127.0.0.1:5000", "cam 1", "http://127.0.0.1:5000/cam%201")]
    public void PublicBaseUrl_IsTheRelaysAddressUnderTheName(string relayUrl, string name, string expected)
    {
        var url = new TunnelPublicBaseUrl(new TunnelOptions { RelayUrl = relayUrl, Name = name }).PublicBaseUrl;
        Assert.Equal(expected, url);
    }

    [Fact]
    public void WatchdogHealth_FollowsTheTunnelsHealth()
    {
        var tunnel = new FakeTunnel();
        var health = new TunnelWatchdogHealth(tunnel);
        Assert.Null(health.Problem());

        tunnel.IsHealthy = false;
        Assert.Contains("tunnel", health.Problem(), StringComparison.Ordinal);
    }

    private sealed class FakeTunnel : ITunnelHealth
    {
        public TunnelState State { get; set; } = TunnelState.Connected;

        public bool IsHealthy { get; set; } = true;
    }
}

extern alias ApplianceApp;
using ReconnectBackoff = ApplianceApp::Appliance.Tunnel.ReconnectBackoff;

namespace Relay.Tests;

public sealed class ReconnectBackoffTests
{
    [Fact]
    public void NextDelay_GrowsFromHalfSecondToThirtySecondCap()
    {
        var backoff = new ReconnectBackoff(new Random(1));
        var ceilings = new List<double>();
        for (var i = 0; i < 10; i++)
        {
            ceilings.Add(backoff.CurrentCeiling.TotalSeconds);
            var delay = backoff.NextDelay();
            Assert.InRange(delay.TotalSeconds, 0, ceilings[^1]);
        }

        Assert.Equal([0.5, 1, 2, 4, 8, 16, 30, 30, 30, 30], ceilings);
    }

    [Fact]
    public void NextDelay_IsFullJitter_NotAlwaysTheCeiling()
    {
        var backoff = new ReconnectBackoff(new Random(7));
        for (var i = 0; i < 7; i++)
        {
            backoff.NextDelay();
        }

        var delays = Enumerable.Range(0, 200).Select(_ => backoff.NextDelay().TotalSeconds).ToList();
        Assert.InRange(delays.Min(), 0, 3);
        Assert.InRange(delays.Max(), 27, 30);
        Assert.InRange(delays.Average(), 12, 18);
    }

    [Fact]
    public void SessionEnded_AfterStableMinute_Resets_ShortSessionDoesNot()
    {
        var backoff = new ReconnectBackoff(new Random(3));
        for (var i = 0; i < 8; i++)
        {
            backoff.NextDelay();
        }

        backoff.SessionEnded(TimeSpan.FromSeconds(59));
        Assert.Equal(TimeSpan.FromSeconds(30), backoff.CurrentCeiling);
        backoff.SessionEnded(TimeSpan.FromSeconds(60));
        Assert.Equal(TimeSpan.FromSeconds(0.5), backoff.CurrentCeiling);
    }
}

namespace Appliance.Tunnel;

/// <summary>
/// Full-jitter exponential backoff: the n-th consecutive failure waits a uniformly random time in
/// [0, min(cap, base·2ⁿ)]. A connection that stayed up for <see cref="StableAfter"/> resets the count, so a link that
/// flaps once a day reconnects fast, while a relay that is down is not hammered. It never gives up.
/// </summary>
public sealed class ReconnectBackoff(Random random)
{
    public static readonly TimeSpan Base = TimeSpan.FromSeconds(0.5);
    public static readonly TimeSpan Cap = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan StableAfter = TimeSpan.FromMinutes(1);

    private int _failures;

    public int ConsecutiveFailures => _failures;

    /// <summary>The upper bound of the next delay.</summary>
    public TimeSpan CurrentCeiling
    {
        get
        {
            var exponent = Math.Min(_failures, 16);
            var ceiling = Base * Math.Pow(2, exponent);
            return ceiling < Cap ? ceiling : Cap;
        }
    }

    /// <summary>Records a failed attempt (or a session that ended) and returns how long to wait before the next one.</summary>
    public TimeSpan NextDelay()
    {
        var delay = CurrentCeiling * random.NextDouble();
        _failures++;
        return delay;
    }

    /// <summary>A session ended after <paramref name="lasted"/>; a stable one starts the backoff over.</summary>
    public void SessionEnded(TimeSpan lasted)
    {
        if (lasted >= StableAfter)
        {
            _failures = 0;
        }
    }
}

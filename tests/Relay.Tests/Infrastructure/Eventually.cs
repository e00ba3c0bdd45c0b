using System.Diagnostics;

namespace Relay.Tests.Infrastructure;

/// <summary>Waits for something the relay or appliance does in the background (a replay, a session) to show.</summary>
internal static class Eventually
{
    /// <summary>
    /// Polls <paramref name="condition"/> every 50 ms; fails the test, naming <paramref name="what"/>, when it is still
    /// false after <paramref name="timeout"/>.
    /// </summary>
    public static async Task WaitForAsync(Func<bool> condition, TimeSpan timeout, string what = "the condition")
    {
        var stopwatch = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(stopwatch.Elapsed < timeout, $"timed out waiting for {what}");
            await Task.Delay(50);
        }
    }
}

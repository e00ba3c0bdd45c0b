using Appliance.Doctor;
using Tests.Shared;
using Microsoft.Extensions.Time.Testing;

namespace Appliance.Tests.Doctor;

/// <summary>The doctor's clock line: synchronization from the kernel (adjtimex) and the zone replies are shown in.</summary>
public sealed class ClockCheckTests
{
    private static readonly FakeTimeProvider Clock = new(new DateTimeOffset(2026, 12, 3, 4, 0, 0, TimeSpan.Zero));
    private static readonly TimeZoneInfo Shanghai = TimeZoneInfo.CreateCustomTimeZone("Asia/Shanghai", TimeSpan.FromHours(8), "China", "China");

    private static Task<DoctorResult> RunAsync(int kernelState, TimeZoneInfo zone) =>
        new ClockCheck(() => kernelState, zone, Clock).RunAsync(CancellationToken.None);

    [Fact]
    public async Task Synchronized_HouseholdZone_PassesShowingLocalTimeAndZone()
    {
        var result = await RunAsync(0, Shanghai);
        Assert.Equal(DoctorOutcome.Pass, result.Outcome);
        Assert.Equal("synchronized; 2026-12-03 12:00 Asia/Shanghai (UTC+08:00)", result.Detail);
    }

    [Fact]
    public async Task NotSynchronized_WarnsWithWhatItBreaksAndWhereToLook()
    {
        var result = await RunAsync(ClockCheck.Unsynchronized, Shanghai);
        Assert.Equal(DoctorOutcome.Warn, result.Outcome);
        Assert.StartsWith("not synchronized", result.Detail, StringComparison.Ordinal);
        Assert.Contains("timedatectl", result.Hint, StringComparison.Ordinal);
        Assert.Contains("WeCom:MaxClockSkew", result.Hint, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Etc/UTC")]
    [InlineData("UTC")]
    public async Task Synchronized_ZoneLeftAtUtc_WarnsHowToSetTheHouseholdsZone(string id)
    {
        var result = await RunAsync(0, TimeZoneInfo.CreateCustomTimeZone(id, TimeSpan.Zero, id, id));
        Assert.Equal(DoctorOutcome.Warn, result.Outcome);
        Assert.Contains("time zone is UTC", result.Detail, StringComparison.Ordinal);
        Assert.Contains("timedatectl set-timezone", result.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Synchronized_ZoneAtGmtPlusZeroButNamed_Passes()
    {
        var result = await RunAsync(0, TimeZoneInfo.CreateCustomTimeZone("Africa/Abidjan", TimeSpan.Zero, "Abidjan", "Abidjan"));
        Assert.Equal(DoctorOutcome.Pass, result.Outcome);
    }

    [Fact]
    public async Task KernelStateUnreadable_SkippedSayingWhy()
    {
        var result = await RunAsync(-1, Shanghai);
        Assert.Equal(DoctorOutcome.Skip, result.Outcome);
        Assert.Contains("errno 1", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadKernelClockState_OnThisMachine_IsAClockStateNotAnError()
    {
        Assert.InRange(ClockCheck.ReadKernelClockState(), 0, 5);
    }
}

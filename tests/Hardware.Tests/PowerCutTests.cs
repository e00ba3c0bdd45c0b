using Appliance.Hosting;
using Appliance.WeCom.Callback;
using Microsoft.Extensions.Logging.Abstractions;

namespace Hardware.Tests;

/// <summary>
/// What the appliance writes to its state directory before it acts must still be there after a power cut. Run only by
/// tests/lanes/hardware.sh, in two boots of the qemu guest with an ext4 disk: in the first
/// (<c>POWERCUT_PHASE=cut</c>) the test writes and then resets the machine at once (sysrq b: no sync, no unmount, as
/// when the plug is pulled); in the second (<c>POWERCUT_PHASE=check</c>) it looks at what the disk kept. The cut
/// also comes while an event's clip is being written (<see cref="PowerCutClip"/>).
/// </summary>
[Trait("Category", "PowerCut")]
public sealed class PowerCutTests
{
    private const string DedupeKey = "msg:family-member:7321000000000000001";

    [Fact]
    public void StateDirectory_PowerCutRightAfterAMessageStarted_JournalAndSecretSurvive()
    {
        var phase = Environment.GetEnvironmentVariable("POWERCUT_PHASE");
        var disk = Environment.GetEnvironmentVariable("POWERCUT_DIR");
        var share = Environment.GetEnvironmentVariable("POWERCUT_SHARE"); // on the host (9p): not cut off
        Assert.True(phase is "cut" or "check" && disk is not null && share is not null,
            "run by tests/lanes/hardware.sh (POWERCUT_PHASE, POWERCUT_DIR and POWERCUT_SHARE)");
        var state = new StateDirectory(Path.Combine(disk, "state"));
        var control = Path.Combine(disk, "control-not-synced");

        if (phase == "cut")
        {
            // First: the clip writer's syncs commit the file system's journal, which must not carry the run journal's.
            PowerCutClip.RecordAndLeaveOpen(state, share);

            using var journal = new RunJournal(state, TimeProvider.System, NullLogger<RunJournal>.Instance);
            journal.Record(DedupeKey, DateTimeOffset.UtcNow.AddHours(1));

            // After the journal, so that only its own syncs can keep it (an ext4 sync commits all metadata so far).
            File.WriteAllText(Path.Combine(share, "link-key.expected"), Convert.ToHexString(state.GetOrCreateSecret("link-key")));

            // Written after the last sync and never synced itself: the cut must lose it, or it was no power cut.
            File.WriteAllText(control, "written without a sync");
            File.WriteAllText(Path.Combine(share, "cutting"), "");
            File.WriteAllText("/proc/sysrq-trigger", "b");
            Thread.Sleep(TimeSpan.FromSeconds(30));
            Assert.Fail("the machine still ran 30 s after sysrq b");
        }

        Assert.False(File.Exists(control) && new FileInfo(control).Length > 0,
            "a file written without a sync survived the reset: the disk was not cut off like a power cut, so this run proves nothing");
        using (var journal = new RunJournal(state, TimeProvider.System, NullLogger<RunJournal>.Instance))
        {
            Assert.NotNull(journal.StartedBeforeRestart(DedupeKey));
        }

        // The secret the first boot made (and signed links with) is the one the disk kept; synced in the same way.
        Assert.Equal(File.ReadAllText(Path.Combine(share, "link-key.expected")), Convert.ToHexString(state.GetOrCreateSecret("link-key")));

        // A clip being written when the power went: the index intact, the clip plays to its last complete frame, partial.
        PowerCutClip.Check(state, share);
    }
}

using Appliance.Doctor;

namespace Appliance.Events.Recording;

/// <summary>Free space for clips: recording pauses below <c>Events:MinFreeMegabytes</c>; the doctor says so before it happens.</summary>
internal sealed class RecordingDoctorCheck(IConfiguration configuration, RecordingOptions options) : IDoctorCheck
{
    public string Title => "Event recordings";

    public Task<DoctorResult> RunAsync(CancellationToken cancellationToken)
    {
        var directory = Path.Combine(StateDirectory.Resolve(configuration), "events");
        var existing = directory;
        while (!Directory.Exists(existing) && Path.GetDirectoryName(existing) is { } parent)
        {
            existing = parent;
        }

        var free = new DriveInfo(existing).AvailableFreeSpace / (1024 * 1024);
        return Task.FromResult(free < options.MinFreeMegabytes
            ? DoctorResult.Warn(
                $"recording paused: {free} MB free for {directory}, below Events:MinFreeMegabytes ({options.MinFreeMegabytes} MB)",
                "free space on the card, or lower Events:MaxDiskMegabytes / Events:MinFreeMegabytes")
            : DoctorResult.Pass($"{free} MB free for {directory} (recording pauses below {options.MinFreeMegabytes} MB; clips use at most {options.MaxDiskMegabytes} MB)"));
    }
}

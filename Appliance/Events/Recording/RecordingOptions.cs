namespace Appliance.Events.Recording;

/// <summary>
/// The recording keys of the <c>Events</c> section: a clip for every motion or press event (pre-roll, the event,
/// post-roll), kept within a disk budget. Recording runs only when an event source (motion, a pin with
/// <c>OnPress</c>) is on, so it costs nothing otherwise.
/// </summary>
public sealed class RecordingOptions
{
    public const string SectionName = "Events";

    /// <summary>Seconds of frames from before the event's start that the clip begins with (0–30).</summary>
    public double PreRollSeconds { get; set; } = 3;

    /// <summary>Seconds recorded after the event's end (after the press for presses), 0–60.</summary>
    public double PostRollSeconds { get; set; } = 3;

    /// <summary>Frames per second kept in the pre-roll and written to clips (1–30); while nobody watches, capture runs at least this fast.</summary>
    public int Fps { get; set; } = 5;

    /// <summary>Longest clip in seconds, pre- and post-roll included: endless motion (a fan, rain) ends its clip here (10–3600).</summary>
    public double MaxClipSeconds { get; set; } = 120;

    /// <summary>Frames waiting to be written (4–1000): when the card is slower than that, the oldest waiting frame is dropped and counted.</summary>
    public int QueueFrames { get; set; } = 64;

    /// <summary>Disk the clips (and their cached mp4 copies) may use, in megabytes; the oldest clips are removed first.</summary>
    public long MaxDiskMegabytes { get; set; } = 1024;

    /// <summary>Events older than this many days are removed with their clips (0 keeps them until the disk budget needs the room).</summary>
    public double MaxAgeDays { get; set; } = 30;

    /// <summary>Recording pauses while the state directory's disk has less free space than this, in megabytes.</summary>
    public long MinFreeMegabytes { get; set; } = 256;

    /// <summary>ffmpeg, which makes the mp4 copy of a clip on demand (<c>/api/events/{id}/clip.mp4</c>).</summary>
    public string FfmpegPath { get; set; } = "ffmpeg";

    /// <summary>Every problem with these settings, each naming its key; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!(PreRollSeconds >= 0 && PreRollSeconds <= 30))
        {
            errors.Add($"Events:PreRollSeconds must be between 0 and 30 (got {PreRollSeconds}).");
        }

        if (!(PostRollSeconds >= 0 && PostRollSeconds <= 60))
        {
            errors.Add($"Events:PostRollSeconds must be between 0 and 60 (got {PostRollSeconds}).");
        }

        if (Fps is < 1 or > 30)
        {
            errors.Add($"Events:Fps must be between 1 and 30 (got {Fps}).");
        }

        if (!(MaxClipSeconds >= 10 && MaxClipSeconds <= 3600))
        {
            errors.Add($"Events:MaxClipSeconds must be between 10 and 3600 (got {MaxClipSeconds}).");
        }

        if (QueueFrames is < 4 or > 1000)
        {
            errors.Add($"Events:QueueFrames must be between 4 and 1000 (got {QueueFrames}).");
        }

        if (MaxDiskMegabytes < 1)
        {
            errors.Add($"Events:MaxDiskMegabytes must be at least 1 (got {MaxDiskMegabytes}).");
        }

        if (!(MaxAgeDays >= 0 && MaxAgeDays <= 3650))
        {
            errors.Add($"Events:MaxAgeDays must be between 0 (no age limit) and 3650 (got {MaxAgeDays}).");
        }

        if (MinFreeMegabytes < 0)
        {
            errors.Add($"Events:MinFreeMegabytes must be 0 or more (got {MinFreeMegabytes}).");
        }

        if (string.IsNullOrWhiteSpace(FfmpegPath))
        {
            errors.Add("Events:FfmpegPath must name ffmpeg (default 'ffmpeg', looked up on PATH).");
        }

        return errors;
    }
}

namespace Camera.Motion;

/// <summary>The <c>Motion</c> configuration section: motion detection from the picture.</summary>
public sealed class MotionOptions
{
    public const string SectionName = "Motion";

    /// <summary>Analyse the picture for motion. Off costs nothing: no analyser runs.</summary>
    public bool Enabled { get; set; }

    /// <summary>Frames analysed per second (1–30), independent of the stream's rate and of viewers.</summary>
    public int Fps { get; set; } = 5;

    /// <summary>Share of the (unmasked) picture that must change for a frame to count as moving (0–1).</summary>
    public double Threshold { get; set; } = 0.005;

    /// <summary>How far (0–255) a pixel's brightness must differ, after the light change is taken out, to count as changed.</summary>
    public int PixelThreshold { get; set; } = 15;

    /// <summary>Consecutive moving frames that start an event.</summary>
    public int MinFrames { get; set; } = 2;

    /// <summary>Seconds without motion that end an event; its end is the last moving frame.</summary>
    public double QuietSeconds { get; set; } = 5;

    /// <summary>Rectangles, in percent of the frame, where nothing counts (a road, a tree, a clock).</summary>
    public List<MotionMask> Masks { get; set; } = [];

    /// <summary>Every problem with these settings, each naming its key; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Fps is < 1 or > 30)
        {
            errors.Add($"Motion:Fps must be between 1 and 30 (got {Fps}).");
        }

        if (!(Threshold > 0 && Threshold < 1))
        {
            errors.Add($"Motion:Threshold must be a share of the picture above 0 and below 1, e.g. 0.005 (got {Threshold}).");
        }

        if (PixelThreshold is < 1 or > 254)
        {
            errors.Add($"Motion:PixelThreshold must be between 1 and 254 (got {PixelThreshold}).");
        }

        if (MinFrames is < 1 or > 100)
        {
            errors.Add($"Motion:MinFrames must be between 1 and 100 (got {MinFrames}).");
        }

        if (!(QuietSeconds >= 0.2 && QuietSeconds <= 3600))
        {
            errors.Add($"Motion:QuietSeconds must be between 0.2 and 3600 (got {QuietSeconds}).");
        }

        for (var i = 0; i < Masks.Count; i++)
        {
            if (Masks[i].Problem() is { } problem)
            {
                errors.Add($"Motion:Masks:{i} {problem}");
            }
        }

        return errors;
    }
}

/// <summary>A rectangle to ignore, in percent of the frame's width and height (0–100).</summary>
public sealed class MotionMask
{
    public double Left { get; set; }

    public double Top { get; set; }

    public double Width { get; set; }

    public double Height { get; set; }

    internal string? Problem()
    {
        if (Left < 0 || Top < 0 || Width <= 0 || Height <= 0 || Left + Width > 100.0001 || Top + Height > 100.0001)
        {
            return $"must lie within the frame in percent: Left and Top from 0, Width and Height above 0, Left+Width and Top+Height at most 100 (got {Left},{Top} {Width}x{Height}).";
        }

        return null;
    }
}

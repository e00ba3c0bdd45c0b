namespace Camera;

/// <summary>The <c>Camera</c> configuration section.</summary>
public sealed class CameraOptions
{
    public const string SectionName = "Camera";

    /// <summary>auto, synthetic, file, rpicam or v4l2. <c>auto</c> takes the first that works of v4l2, rpicam, synthetic.</summary>
    public string Source { get; set; } = "auto";

    /// <summary>Frame width in pixels (16–4096).</summary>
    public int Width { get; set; } = 1280;

    /// <summary>Frame height in pixels (16–4096).</summary>
    public int Height { get; set; } = 720;

    /// <summary>Frames per second while somebody watches (1–120).</summary>
    public int Fps { get; set; } = 30;

    /// <summary>JPEG quality for frames the appliance encodes itself (1–100).</summary>
    public int Quality { get; set; } = 80;

    /// <summary>Frames per second while nobody watches; 0 pauses capture until a viewer or snapshot arrives.</summary>
    public int IdleFps { get; set; } = 1;

    /// <summary>The V4L2 device for <c>v4l2</c>, e.g. /dev/video0; empty means the first capture device.</summary>
    public string Device { get; set; } = "";

    /// <summary>For <c>file</c>: an MJPEG file (concatenated JPEGs) or a directory of .jpg files, replayed in a loop.</summary>
    public string File { get; set; } = "";

    /// <summary>For <c>rpicam</c>: the capture command; empty tries rpicam-vid, then libcamera-vid.</summary>
    public string Command { get; set; } = "";

    /// <summary>Supported values of <see cref="Source"/>.</summary>
    public static readonly IReadOnlyList<string> Sources = ["auto", "synthetic", "file", "rpicam", "v4l2"];

    /// <summary>Every problem with these settings, each naming its key; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!Sources.Contains(Source, StringComparer.OrdinalIgnoreCase))
        {
            errors.Add($"Camera:Source must be one of {string.Join(", ", Sources)} (got '{Source}').");
        }

        CheckRange(errors, "Camera:Width", Width, 16, 4096);
        CheckRange(errors, "Camera:Height", Height, 16, 4096);
        CheckRange(errors, "Camera:Fps", Fps, 1, 120);
        CheckRange(errors, "Camera:Quality", Quality, 1, 100);
        CheckRange(errors, "Camera:IdleFps", IdleFps, 0, 120);
        if (Width % 2 != 0 || Height % 2 != 0)
        {
            errors.Add($"Camera:Width and Camera:Height must be even (got {Width}x{Height}).");
        }

        if (string.Equals(Source, "file", StringComparison.OrdinalIgnoreCase))
        {
            if (string.IsNullOrWhiteSpace(File))
            {
                errors.Add("Camera:File must name an MJPEG file or a directory of JPEGs when Camera:Source is 'file'.");
            }
            else if (!System.IO.File.Exists(File) && !Directory.Exists(File))
            {
                errors.Add($"Camera:File '{File}' does not exist.");
            }
        }

        return errors;
    }

    private static void CheckRange(List<string> errors, string key, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            errors.Add($"{key} must be between {min} and {max} (got {value}).");
        }
    }
}

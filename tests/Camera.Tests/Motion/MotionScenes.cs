using System.Diagnostics;
using System.Globalization;

namespace Camera.Tests.Motion;

/// <summary>
/// Scripted 1280x720 scenes made with ffmpeg's lavfi sources (SMPTE bars as the still scene, a dark box as the moving
/// object, eq for light, noise for a grainy sensor), written as MJPEG files for the file source. Made once per run.
/// </summary>
internal static class MotionScenes
{
    public const int Fps = 5;

    private static readonly string Directory = System.IO.Directory.CreateTempSubdirectory("motion-scenes-").FullName;
    private static readonly Lock Gate = new();

    /// <summary>The box stands still until 2 s, moves from 2 s to 5 s (3 s), then stands still again; 9 s long.</summary>
    public const double MoveStart = 2.0;
    public const double MoveEnd = 5.0;

    public static string Still => Make("still", 6, "smptehdbars=size=1280x720:rate=5", null);

    public static string MovingBox => Make("moving-box", 9, "smptehdbars=size=1280x720:rate=5",
        "[0][1]overlay=x='if(lt(t,2),100,if(lt(t,5),100+(t-2)*300,1000))':y=280");

    /// <summary>The light rises slowly over 8 s (brightness and contrast), as a cloud passing or dusk.</summary>
    public static string SlowLightRamp => Make("light-ramp", 8,
        "smptehdbars=size=1280x720:rate=5,eq=brightness='0.25*t/8':contrast='1+0.3*t/8':eval=frame", null);

    /// <summary>A lamp switched on at 2 s and off at 4.6 s: the whole frame jumps in brightness and contrast.</summary>
    public static string LightSwitch => Make("light-switch", 7,
        "smptehdbars=size=1280x720:rate=5,eq=brightness='if(between(t,2,4.5),0.22,0)':contrast='if(between(t,2,4.5),1.25,1)':eval=frame", null);

    /// <summary>A grainy sensor: strong temporal noise on every pixel, nothing moves.</summary>
    public static string Noise => Make("noise", 6, "smptehdbars=size=1280x720:rate=5,noise=alls=30:allf=t+u", null);

    /// <summary>The box's path, in percent of the frame: it moves along y 280–440 of 720 (38.9–61.1 %).</summary>
    public static readonly (double Top, double Height) BoxBand = (38.9, 22.2);

    private static string Make(string name, int seconds, string background, string? overlay)
    {
        lock (Gate)
        {
            var path = Path.Combine(Directory, name + ".mjpeg");
            if (File.Exists(path))
            {
                return path;
            }

            var duration = seconds.ToString(CultureInfo.InvariantCulture);
            List<string> arguments = ["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", background];
            if (overlay is not null)
            {
                arguments.AddRange(["-f", "lavfi", "-i", "color=c=0x202020:size=160x160:rate=5", "-filter_complex", overlay]);
            }

            arguments.AddRange(["-t", duration, "-r", "5", "-pix_fmt", "yuvj420p", "-q:v", "4", "-f", "mjpeg", path + ".tmp"]);
            Run(arguments);
            File.Move(path + ".tmp", path);
            return path;
        }
    }

    private static void Run(IReadOnlyList<string> arguments)
    {
        var ffmpeg = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "ffmpeg")).FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("ffmpeg is not installed; run tests/setup.sh (the README's test command does).");
        var start = new ProcessStartInfo(ffmpeg) { RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("ffmpeg did not make the scene within 2 minutes");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"ffmpeg failed ({process.ExitCode}): {stderr}");
        }
    }
}

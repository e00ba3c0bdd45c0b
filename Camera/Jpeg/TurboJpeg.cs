using System.Runtime.InteropServices;
using Camera.Interop;

namespace Camera.Jpeg;

/// <summary>Checks that libturbojpeg can be loaded and says how to install it when it cannot.</summary>
public static class TurboJpeg
{
    public const string InstallHint = "install it with: sudo apt install libturbojpeg0";

    /// <summary>Null when libturbojpeg loads; otherwise a message a person can act on.</summary>
    public static string? Probe()
    {
        try
        {
            var handle = TurboJpegNative.tjInitCompress();
            if (handle == 0)
            {
                return $"{TurboJpegNative.Library} loaded but could not create a compressor.";
            }

            _ = TurboJpegNative.tjDestroy(handle);
            return null;
        }
        catch (DllNotFoundException)
        {
            return $"{TurboJpegNative.Library} (libjpeg-turbo) was not found; {InstallHint}.";
        }
        catch (EntryPointNotFoundException ex)
        {
            return $"{TurboJpegNative.Library} is too old ({ex.Message}); {InstallHint}.";
        }
    }

    /// <summary>Throws <see cref="FrameSourceException"/> with the install hint when libturbojpeg is missing.</summary>
    public static void EnsureAvailable()
    {
        if (Probe() is { } problem)
        {
            throw new FrameSourceException(problem);
        }
    }

    internal static unsafe string LastError(nint handle)
    {
        var text = TurboJpegNative.tjGetErrorStr2(handle);
        return text == null ? "unknown libturbojpeg error" : Marshal.PtrToStringUTF8((nint)text) ?? "unknown";
    }
}

namespace Camera.Interop;

/// <summary>libturbojpeg's TurboJPEG 2 API (exported by libjpeg-turbo 2.x and 3.x), one native call per file.</summary>
internal static unsafe partial class TurboJpegNative
{
    internal const string Library = "libturbojpeg.so.0";

    internal const int PixelFormatRgb = 0;
    internal const int PixelFormatGray = 6;
    internal const int Subsampling444 = 0;
    internal const int Subsampling422 = 1;
    internal const int Subsampling420 = 2;
    internal const int SubsamplingGray = 3;
    internal const int FlagNoRealloc = 1024;
    internal const int FlagFastDct = 2048;
}

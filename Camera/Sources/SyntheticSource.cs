using Camera.Jpeg;

namespace Camera.Sources;

/// <summary>
/// A moving test pattern with a clock: colour bars, a sweeping box and the time to the millisecond, so a person
/// can see at a glance that the picture is live. Rendered straight into YUV 4:2:0 planes and encoded without any
/// colour conversion, so it costs little more than the JPEG encode itself.
/// </summary>
public sealed class SyntheticSource : FrameSource
{
    private static readonly (byte Y, byte U, byte V)[] Bars =
    [
        (235, 128, 128), (210, 16, 146), (170, 166, 16), (145, 54, 34),
        (106, 202, 222), (81, 90, 240), (41, 240, 110), (16, 128, 128),
    ];

    private readonly CameraOptions _options;
    private readonly TimeProvider _time;
    private JpegEncoder? _encoder;
    private byte[] _backgroundY = [], _backgroundU = [], _backgroundV = [];
    private byte[] _y = [], _u = [], _v = [];
    private long _count;

    public SyntheticSource(CameraOptions options, TimeProvider? time = null)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _time = time ?? TimeProvider.System;
    }

    public override string Name => "synthetic";

    public override bool IsSelfPaced => false;

    public override string Description => $"synthetic test pattern {Width}x{Height}";

    public override void Open(CancellationToken cancellationToken)
    {
        Width = _options.Width;
        Height = _options.Height;
        _encoder ??= new JpegEncoder(_options.Quality);
        var chromaWidth = Width / 2;
        var chromaHeight = Height / 2;
        _backgroundY = new byte[Width * Height];
        _backgroundU = new byte[chromaWidth * chromaHeight];
        _backgroundV = new byte[chromaWidth * chromaHeight];
        for (var x = 0; x < Width; x++)
        {
            var bar = Bars[x * Bars.Length / Width];
            for (var y = 0; y < Height; y++)
            {
                // The lower quarter is a grey ramp, which shows banding or colour faults at a glance.
                _backgroundY[(y * Width) + x] = y < Height * 3 / 4 ? bar.Y : (byte)(16 + (219 * x / Width));
            }
        }

        for (var x = 0; x < chromaWidth; x++)
        {
            var bar = Bars[x * 2 * Bars.Length / Width];
            for (var y = 0; y < chromaHeight; y++)
            {
                var ramp = y >= chromaHeight * 3 / 4;
                _backgroundU[(y * chromaWidth) + x] = ramp ? (byte)128 : bar.U;
                _backgroundV[(y * chromaWidth) + x] = ramp ? (byte)128 : bar.V;
            }
        }

        _y = new byte[_backgroundY.Length];
        _u = new byte[_backgroundU.Length];
        _v = new byte[_backgroundV.Length];
    }

    public override Frame? ReadFrame(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var encoder = _encoder ?? throw new InvalidOperationException("Open the source first.");
        var now = _time.GetUtcNow();
        _backgroundY.CopyTo(_y, 0);
        _backgroundU.CopyTo(_u, 0);
        _backgroundV.CopyTo(_v, 0);

        // A box that crosses the picture every four seconds.
        var box = Math.Max(16, Height / 6) & ~1;
        var phase = now.ToUnixTimeMilliseconds() % 4000 / 4000.0;
        var boxX = (int)(phase * (Width - box)) & ~1;
        var boxY = ((Height * 3 / 4) - box) / 2 & ~1;
        FillRectangle(boxX, boxY, box, box, 235, 128, 128);

        // The clock on a black plate, top left.
        var scale = Math.Max(1, Height / 90);
        var local = _time.GetLocalNow();
        var text = $"{local:HH:mm:ss.fff} #{++_count % 100000}";
        var plateWidth = Math.Min(Width, ((text.Length * 6) + 2) * scale) & ~1;
        FillRectangle(0, 0, plateWidth, Math.Min(Height, 10 * scale) & ~1, 16, 128, 128);
        DrawText(text, scale, scale, scale);

        return encoder.EncodeYuvPlanes(_y, Width, _u, _v, Width / 2, Width, Height, ChromaSubsampling.Yuv420, now);
    }

    private void FillRectangle(int x0, int y0, int width, int height, byte y, byte u, byte v)
    {
        var x1 = Math.Min(Width, x0 + width);
        var y1 = Math.Min(Height, y0 + height);
        for (var row = y0; row < y1; row++)
        {
            _y.AsSpan((row * Width) + x0, x1 - x0).Fill(y);
        }

        var chromaWidth = Width / 2;
        for (var row = y0 / 2; row < y1 / 2; row++)
        {
            _u.AsSpan((row * chromaWidth) + (x0 / 2), (x1 - x0) / 2).Fill(u);
            _v.AsSpan((row * chromaWidth) + (x0 / 2), (x1 - x0) / 2).Fill(v);
        }
    }

    private void DrawText(string text, int x, int y, int scale)
    {
        foreach (var c in text)
        {
            var glyph = Font.Glyph(c);
            for (var row = 0; row < 7; row++)
            {
                for (var column = 0; column < 5; column++)
                {
                    if ((glyph[row] & (0x10 >> column)) == 0)
                    {
                        continue;
                    }

                    var px = x + (column * scale);
                    var py = y + (row * scale);
                    for (var dy = 0; dy < scale && py + dy < Height; dy++)
                    {
                        var start = ((py + dy) * Width) + px;
                        var length = Math.Min(scale, Width - px);
                        if (length > 0)
                        {
                            _y.AsSpan(start, length).Fill(235);
                        }
                    }
                }
            }

            x += 6 * scale;
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _encoder?.Dispose();
            _encoder = null;
        }

        base.Dispose(disposing);
    }

    /// <summary>A 5x7 bitmap font for the clock: digits and a few signs.</summary>
    private static class Font
    {
        private static readonly byte[] Blank = [0, 0, 0, 0, 0, 0, 0];

        private static readonly byte[][] Digits =
        [
            [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E], [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
            [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F], [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
            [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02], [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
            [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E], [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
            [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E], [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        ];

        private static readonly byte[] Colon = [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00];
        private static readonly byte[] Dot = [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C];
        private static readonly byte[] Hash = [0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A];

        public static byte[] Glyph(char c) => c switch
        {
            >= '0' and <= '9' => Digits[c - '0'],
            ':' => Colon,
            '.' => Dot,
            '#' => Hash,
            _ => Blank,
        };
    }
}

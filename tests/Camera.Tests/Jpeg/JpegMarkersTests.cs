using Camera.Jpeg;

namespace Camera.Tests.Jpeg;

public sealed class JpegMarkersTests
{
    [Fact]
    public void Validate_EncodedJpeg_IsValid()
    {
        Assert.Null(JpegMarkers.Validate(TestJpegs.Make()));
    }

    [Theory]
    [InlineData("short")]
    [InlineData("no-soi")]
    [InlineData("truncated")]
    [InlineData("corrupt-header")]
    [InlineData("png")]
    public void Validate_BrokenFrame_GivesReason(string kind)
    {
        var jpeg = TestJpegs.Make();
        byte[] broken = kind switch
        {
            "short" => jpeg[..100],
            "no-soi" => [0x00, .. jpeg[1..]],
            "truncated" => jpeg[..(jpeg.Length / 2)],
            "corrupt-header" => Corrupt(jpeg),
            "png" => [0x89, 0x50, 0x4E, 0x47, .. new byte[300]],
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };

        Assert.NotNull(JpegMarkers.Validate(broken));
        Assert.Null(JpegMarkers.ToFrame(broken, DateTimeOffset.UnixEpoch, out var reason));
        Assert.False(string.IsNullOrEmpty(reason));

        static byte[] Corrupt(byte[] jpeg)
        {
            var copy = (byte[])jpeg.Clone();
            copy[2] = 0x12; // where the first marker's FF should be
            return copy;
        }
    }

    [Fact]
    public void StandardHuffmanTables_MatchWhatLibjpegTurboWrites()
    {
        // libjpeg-turbo writes the Annex K tables (one DHT per table) unless told to optimise: ours must be the same
        // four tables, in one 420-byte segment with length 0x01A2.
        var jpeg = TestJpegs.Make();
        var tables = TestJpegs.Segments(jpeg).Where(s => s.Marker == 0xC4)
            .SelectMany(s => jpeg.AsSpan(s.Offset + 4, s.Length - 4).ToArray()).ToArray();
        var segment = StandardHuffmanTables.Segment;

        Assert.Equal(420, segment.Length);
        Assert.Equal(new byte[] { 0xFF, 0xC4, 0x01, 0xA2 }, segment[..4]);
        Assert.Equal(Sorted(tables), Sorted(segment[4..]));

        // Compare table by table, keyed by class/id, since the encoder's order may differ.
        static SortedDictionary<byte, string> Sorted(byte[] payload)
        {
            var result = new SortedDictionary<byte, string>();
            var pos = 0;
            while (pos < payload.Length)
            {
                var count = payload.AsSpan(pos + 1, 16).ToArray().Sum(b => b);
                result[payload[pos]] = Convert.ToHexString(payload, pos, 17 + count);
                pos += 17 + count;
            }

            return result;
        }
    }

    [Fact]
    public void ToFrame_FrameWithoutHuffmanTables_GetsThemInsertedBeforeSof_AndDecodesIdentically()
    {
        var original = TestJpegs.Make(96, 64, seed: 3);
        var stripped = TestJpegs.WithoutHuffmanTables(original);
        Assert.False(JpegMarkers.HasHuffmanTables(stripped));

        var frame = JpegMarkers.ToFrame(stripped, DateTimeOffset.UnixEpoch, out var reason);
        Assert.Null(reason);
        Assert.NotNull(frame);
        var fixedJpeg = frame.Jpeg.ToArray();
        frame.Release();

        Assert.Equal(stripped.Length + 420, fixedJpeg.Length);
        var segments = TestJpegs.Segments(fixedJpeg);
        var dht = segments.FindIndex(s => s.Marker == 0xC4);
        var sof = segments.FindIndex(s => s.Marker == 0xC0);
        Assert.Equal(sof - 1, dht);

        using var decoder = new JpegDecoder();
        Assert.Equal(decoder.DecodeRgb(original, out _, out _), decoder.DecodeRgb(fixedJpeg, out var w, out var h));
        Assert.Equal((96, 64), (w, h));
    }

    [Fact]
    public void ToFrame_FrameWithHuffmanTables_IsCopiedUnchanged()
    {
        var jpeg = TestJpegs.Make();
        var frame = JpegMarkers.ToFrame(jpeg, DateTimeOffset.UnixEpoch, out _)!;
        Assert.Equal(jpeg, frame.Jpeg.ToArray());
        Assert.Equal((64, 48), (frame.Width, frame.Height));
        frame.Release();
    }

    [Fact]
    public void ReadSize_ReadsTheFrameHeader()
    {
        Assert.Equal((200, 120), JpegMarkers.ReadSize(TestJpegs.Make(200, 120)));
    }
}

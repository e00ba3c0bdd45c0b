using Camera.Jpeg;
using Camera.V4l2;

namespace Camera.Tests.V4l2;

/// <summary>YUYV frames are encoded as 4:2:0 JPEGs from the even rows of the deinterleaved 4:2:2 chroma.</summary>
public sealed class YuyvEncodingTests
{
    [Fact]
    public void EncodeYuyvPlanes_FlatColour_Is420FromTheEvenChromaRows()
    {
        const int width = 32, height = 16;
        var y = Enumerable.Repeat((byte)128, width * height).ToArray();
        // 4:2:2 chroma planes (width/2 x height): even rows hold the colour, odd rows something else entirely, which a
        // 4:2:0 encoder reading every other row must never see (averaging would give U 130, V 105).
        var u = new byte[width / 2 * height];
        var v = new byte[width / 2 * height];
        for (var row = 0; row < height; row++)
        {
            Array.Fill(u, row % 2 == 0 ? (byte)60 : (byte)200, row * width / 2, width / 2);
            Array.Fill(v, row % 2 == 0 ? (byte)180 : (byte)30, row * width / 2, width / 2);
        }

        using var encoder = new JpegEncoder(90);
        var frame = V4l2Source.EncodeYuyvPlanes(encoder, y, u, v, width, height, DateTimeOffset.UnixEpoch);
        var jpeg = frame.Jpeg.ToArray();
        frame.Release();

        Assert.Equal(0x22, LumaSampling(jpeg)); // h2v2: 4:2:0 (4:2:2 would be 0x21)
        using var decoder = new JpegDecoder();
        var rgb = decoder.DecodeRgb(jpeg, out var decodedWidth, out var decodedHeight);
        Assert.Equal((width, height), (decodedWidth, decodedHeight));
        // JFIF: R = Y + 1.402 (V-128) = 201, G = Y - 0.344 (U-128) - 0.714 (V-128) = 114, B = Y + 1.772 (U-128) = 8.
        for (var i = 0; i < rgb.Length; i += 3)
        {
            Assert.InRange(rgb[i], 195, 207);
            Assert.InRange(rgb[i + 1], 108, 120);
            Assert.InRange(rgb[i + 2], 0, 14);
        }
    }

    /// <summary>The luma component's sampling factors byte from the baseline SOF0 header.</summary>
    private static int LumaSampling(byte[] jpeg)
    {
        for (var i = 2; i + 11 < jpeg.Length; i++)
        {
            if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xC0)
            {
                return jpeg[i + 11]; // FFC0, length (2), precision, height (2), width (2), components, id, sampling
            }
        }

        throw new InvalidDataException("no SOF0 marker");
    }
}

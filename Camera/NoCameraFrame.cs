using Camera.Jpeg;

namespace Camera;

/// <summary>
/// The picture viewers get while the camera is unavailable: dark grey with "NO CAMERA" in large block letters,
/// so the page shows why the stream stands still instead of a frozen last frame. Encoded once per size.
/// </summary>
public static class NoCameraFrame
{
    // 5x7 glyphs, one string per row, '#' = ink.
    private static readonly Dictionary<char, string[]> Glyphs = new()
    {
        ['N'] = ["#   #", "##  #", "# # #", "#  ##", "#   #", "#   #", "#   #"],
        ['O'] = [" ### ", "#   #", "#   #", "#   #", "#   #", "#   #", " ### "],
        ['C'] = [" ####", "#    ", "#    ", "#    ", "#    ", "#    ", " ####"],
        ['A'] = [" ### ", "#   #", "#   #", "#####", "#   #", "#   #", "#   #"],
        ['M'] = ["#   #", "## ##", "# # #", "#   #", "#   #", "#   #", "#   #"],
        ['E'] = ["#####", "#    ", "#    ", "#### ", "#    ", "#    ", "#####"],
        ['R'] = ["#### ", "#   #", "#   #", "#### ", "# #  ", "#  # ", "#   #"],
        [' '] = ["     ", "     ", "     ", "     ", "     ", "     ", "     "],
    };

    private const string Text = "NO CAMERA";

    /// <summary>An RGB image of the message (width*height*3 bytes).</summary>
    public static byte[] RenderRgb(int width, int height)
    {
        var rgb = new byte[width * height * 3];
        rgb.AsSpan().Fill(48);

        // Each glyph is 5 cells wide plus 1 cell of spacing; fit the line into 80 % of the width.
        var cell = Math.Max(1, Math.Min(width * 8 / 10 / (Text.Length * 6), height / 3 / 7));
        var left = (width - (Text.Length * 6 * cell)) / 2;
        var top = (height - (7 * cell)) / 2;
        for (var i = 0; i < Text.Length; i++)
        {
            var glyph = Glyphs[Text[i]];
            for (var row = 0; row < 7; row++)
            {
                for (var col = 0; col < 5; col++)
                {
                    if (glyph[row][col] != '#')
                    {
                        continue;
                    }

                    for (var y = top + (row * cell); y < top + ((row + 1) * cell); y++)
                    {
                        var x0 = left + (((i * 6) + col) * cell);
                        rgb.AsSpan(((y * width) + x0) * 3, cell * 3).Fill(220);
                    }
                }
            }
        }

        return rgb;
    }

    /// <summary>The message as a JPEG frame of the given size.</summary>
    public static Frame Render(int width, int height, int quality, DateTimeOffset capturedAt)
    {
        using var encoder = new JpegEncoder(quality);
        return encoder.EncodeRgb(RenderRgb(width, height), width, height, capturedAt);
    }
}

using Appliance.Scoring;

namespace Appliance.Tests.Scoring;

/// <summary>The AMR-NB storage format check (RFC 4867 §5.3) on what WeCom's media/get writes into ffmpeg.</summary>
public sealed class AmrInputGuardTests
{
    private static readonly byte[] Magic = "#!AMR\n"u8.ToArray();

    // Speech bytes after the header byte by frame type (0..8, 15), as the format defines them.
    private static readonly (int Type, int Speech)[] Types = [(0, 12), (1, 13), (2, 15), (3, 17), (4, 19), (5, 20), (6, 26), (7, 31), (8, 5), (15, 0)];

    /// <summary>
    /// One frame: the header byte (P=0, FT, Q, padding 0) and its speech bytes, all 0xFF, so a guard that lost its
    /// place would read a speech byte as a header with the P bit set and refuse.
    /// </summary>
    private static byte[] Frame(int type, int speech, bool quality = true) =>
        [(byte)((type << 3) | (quality ? 0x04 : 0)), .. Enumerable.Repeat((byte)0xFF, speech)];

    /// <summary>Every frame type, with Q=1 and Q=0, then NO_DATA and SID runs: 2 × 10 + 3 + 3 frames.</summary>
    private static byte[] AllFrameTypes() =>
    [
        .. Magic,
        .. Types.SelectMany(t => Frame(t.Type, t.Speech)),
        .. Types.SelectMany(t => Frame(t.Type, t.Speech, quality: false)),
        .. Frame(15, 0), .. Frame(15, 0), .. Frame(15, 0),
        .. Frame(8, 5), .. Frame(8, 5), .. Frame(7, 31),
    ];

    private static (AmrInputGuard Guard, MemoryStream Inner) NewGuard(long maxBytes = 1 << 20)
    {
        var inner = new MemoryStream();
        return (new AmrInputGuard(inner, maxBytes), inner);
    }

    private static async Task WriteInChunksAsync(AmrInputGuard guard, byte[] data, IEnumerable<int> sizes)
    {
        var offset = 0;
        foreach (var size in sizes)
        {
            if (offset == data.Length)
            {
                break;
            }

            var count = Math.Min(size, data.Length - offset);
            await guard.WriteAsync(data.AsMemory(offset, count));
            offset += count;
        }

        Assert.Equal(data.Length, offset);
    }

    private static IEnumerable<int> Repeat(params int[] sizes)
    {
        while (true)
        {
            foreach (var size in sizes)
            {
                yield return size;
            }
        }
    }

    private static string Refusal(Action action) => Assert.Throws<AudioRejectedException>(action).Message;

    [Fact]
    public async Task AmrInputGuard_ValidFramesByteByByte_AcceptedAndPassedOnUnchanged()
    {
        var data = AllFrameTypes();
        var (guard, inner) = NewGuard();

        await WriteInChunksAsync(guard, data, Repeat(1));
        guard.Complete();

        Assert.Equal(data, inner.ToArray());
        Assert.Equal(data.Length, guard.Written);
    }

    [Fact]
    public async Task AmrInputGuard_ValidFramesSplitAtEveryOffset_Accepted()
    {
        var data = AllFrameTypes();
        for (var split = 0; split <= data.Length; split++)
        {
            var (guard, inner) = NewGuard();
            await guard.WriteAsync(data.AsMemory(0, split));
            await guard.WriteAsync(data.AsMemory(split));
            guard.Complete();
            Assert.Equal(data, inner.ToArray());
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    [InlineData(7)]
    [InlineData(13)]
    [InlineData(33)]
    [InlineData(1, 6, 31, 2)]
    [InlineData(5, 1, 1, 32, 17)]
    public async Task AmrInputGuard_ValidFramesInOddChunks_Accepted(params int[] sizes)
    {
        var data = AllFrameTypes();
        var (guard, inner) = NewGuard();

        await WriteInChunksAsync(guard, data, Repeat(sizes));
        guard.Complete();

        Assert.Equal(data, inner.ToArray());
    }

    [Fact]
    public void AmrInputGuard_NoDataFrames_Accepted()
    {
        // NO_DATA has no speech bytes: the next byte is the next frame's header, whatever follows.
        byte[] data = [.. Magic, .. Frame(15, 0), .. Frame(15, 0, quality: false), .. Frame(0, 12), .. Frame(15, 0)];
        var (guard, inner) = NewGuard();

        guard.Write(data, 0, data.Length);
        guard.Complete();

        Assert.Equal(data, inner.ToArray());
    }

    [Fact]
    public void AmrInputGuard_OnlyNoDataFrames_Accepted()
    {
        byte[] data = [.. Magic, 0x7C, 0x7C, 0x7C];
        var (guard, _) = NewGuard();

        guard.Write(data, 0, data.Length);
        guard.Complete();
    }

    [Fact]
    public void AmrInputGuard_SidFrames_Accepted()
    {
        byte[] data = [.. Magic, .. Frame(8, 5), .. Frame(15, 0), .. Frame(8, 5, quality: false), .. Frame(8, 5)];
        var (guard, inner) = NewGuard();

        foreach (var b in data)
        {
            guard.Write([b], 0, 1);
        }

        guard.Complete();
        Assert.Equal(data, inner.ToArray());
    }

    [Fact]
    public void AmrInputGuard_BadQualityFrames_Accepted()
    {
        // Q=0 is legal (the decoder conceals the frame); a voice of nothing else is still AMR as far as the guard goes.
        byte[] data = [.. Magic, .. Frame(7, 31, quality: false), .. Frame(7, 31, quality: false)];
        var (guard, _) = NewGuard();

        guard.Write(data, 0, data.Length);
        guard.Complete();
    }

    [Theory]
    [InlineData(0x80)] // P=1, FT 0
    [InlineData(0xBC)] // P=1, FT 7, Q=1
    [InlineData(0xFC)] // P=1, FT 15, Q=1
    public void AmrInputGuard_PBitSet_Refused(byte header)
    {
        byte[] data = [.. Magic, .. Frame(7, 31), header, .. new byte[31]];
        var (guard, inner) = NewGuard();

        var message = Refusal(() => guard.Write(data, 0, data.Length));

        Assert.Equal($"the AMR voice is damaged (frame 2 at byte 38: header 0x{header:X2} has the P bit set)", message);
        Assert.Equal(0, inner.Length); // nothing of a refused write reaches ffmpeg
    }

    [Theory]
    [InlineData(0x3D)] // FT 7, Q=1, padding 01
    [InlineData(0x3E)] // padding 10
    [InlineData(0x3F)] // padding 11
    [InlineData(0x01)] // FT 0, Q=0, padding 01
    public void AmrInputGuard_PaddingBitsSet_Refused(byte header)
    {
        byte[] data = [.. Magic, .. Frame(0, 12), .. Frame(15, 0), header, .. new byte[31]];
        var (guard, _) = NewGuard();

        var message = Refusal(() => guard.Write(data, 0, data.Length));

        Assert.Equal($"the AMR voice is damaged (frame 3 at byte 20: header 0x{header:X2} has padding bits set)", message);
    }

    [Theory]
    [InlineData(9)]
    [InlineData(10)]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    [InlineData(14)]
    public void AmrInputGuard_ReservedFrameType_Refused(int type)
    {
        byte[] data = [.. Magic, .. Frame(7, 31), .. Frame(type, 0)];
        var (guard, _) = NewGuard();

        var message = Refusal(() => guard.Write(data, 0, data.Length));

        Assert.Equal($"the AMR voice is damaged (frame 2 at byte 38: reserved frame type {type})", message);
    }

    [Fact]
    public async Task AmrInputGuard_DamageAfterEarlierWrites_RefusedAndOnlyTheEarlierWritesPassedOn()
    {
        byte[] good = [.. Magic, .. Frame(7, 31), .. Frame(7, 31)];
        byte[] data = [.. good, .. Frame(7, 31), 0x64, .. new byte[31]]; // frame 4: FT 12
        var (guard, inner) = NewGuard();
        await guard.WriteAsync(good);
        await guard.WriteAsync(data.AsMemory(good.Length, 10)); // frame 3 begins; the next write ends it and holds frame 4

        var refused = await Assert.ThrowsAsync<AudioRejectedException>(() => guard.WriteAsync(data.AsMemory(good.Length + 10)).AsTask());

        Assert.Equal("the AMR voice is damaged (frame 4 at byte 102: reserved frame type 12)", refused.Message);
        Assert.Equal(good.Length + 10, inner.Length);
    }

    [Fact]
    public void AmrInputGuard_TruncatedLastFrame_RefusedAtCompletion()
    {
        byte[] whole = [.. Magic, .. Frame(8, 5), .. Frame(7, 31), .. Frame(7, 31)];
        for (var missing = 1; missing <= 31; missing++)
        {
            var (guard, inner) = NewGuard();
            guard.Write(whole, 0, whole.Length - missing);
            Assert.Equal(whole.Length - missing, inner.Length); // the writes themselves are fine

            var message = Refusal(guard.Complete);

            Assert.Equal($"the AMR voice is damaged (frame 3 at byte 44: cut short, {32 - missing} of its 32 bytes)", message);
        }
    }

    [Fact]
    public void AmrInputGuard_TruncatedSidFrame_RefusedAtCompletion()
    {
        byte[] data = [.. Magic, .. Frame(15, 0), .. Frame(8, 5)[..3]];
        var (guard, _) = NewGuard();
        guard.Write(data, 0, data.Length);

        Assert.Equal("the AMR voice is damaged (frame 2 at byte 7: cut short, 3 of its 6 bytes)", Refusal(guard.Complete));
    }

    [Fact]
    public void AmrInputGuard_OnlyTheMagic_RefusedAsEmpty()
    {
        var (guard, _) = NewGuard();
        guard.Write(Magic, 0, Magic.Length);

        Assert.Equal("the AMR voice is empty (no frames after the #!AMR header)", Refusal(guard.Complete));
    }

    [Fact]
    public void AmrInputGuard_EndsInsideTheMagic_RefusedAsNotAmr()
    {
        var (guard, _) = NewGuard();
        guard.Write(Magic, 0, 4);

        Assert.Contains("not AMR", Refusal(guard.Complete), StringComparison.Ordinal);
    }

    [Fact]
    public void AmrInputGuard_HtmlPageAfterTheMagic_Refused()
    {
        // An error page behind a right header: ASCII never sets P, but its bytes are not a run of valid frames.
        byte[] data = [.. Magic, .. "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>\n"u8];
        var (guard, _) = NewGuard();

        var message = Refusal(() =>
        {
            guard.Write(data, 0, data.Length);
            guard.Complete();
        });

        Assert.Equal("the AMR voice is damaged (frame 2 at byte 38: header 0x61 has padding bits set)", message);
    }

    [Fact]
    public void AmrInputGuard_RandomBodyAfterTheMagic_Refused()
    {
        var random = new Random(4867);
        for (var i = 0; i < 200; i++)
        {
            var body = new byte[random.Next(64, 4000)];
            random.NextBytes(body);
            byte[] data = [.. Magic, .. body];
            var (guard, _) = NewGuard();

            var message = Refusal(() =>
            {
                guard.Write(data, 0, data.Length);
                guard.Complete();
            });

            Assert.StartsWith("the AMR voice is damaged (frame ", message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("MR475")]
    [InlineData("MR515")]
    [InlineData("MR59")]
    [InlineData("MR67")]
    [InlineData("MR74")]
    [InlineData("MR795")]
    [InlineData("MR102")]
    [InlineData("MR122")]
    [InlineData("MRDTX")] // SID and NO_DATA frames
    public async Task AmrInputGuard_RealAmrnbencVoice_Accepted(string bandMode)
    {
        var data = await AmrScoringTests.AmrSineAsync(2, bandMode);
        Assert.True(data.Length > Magic.Length + 50, $"amrnbenc wrote {data.Length} bytes");

        foreach (var sizes in (int[][])[[1], [7], [81920], [3, 100, 29]])
        {
            var (guard, inner) = NewGuard();
            await WriteInChunksAsync(guard, data, Repeat(sizes));
            guard.Complete();
            Assert.Equal(data, inner.ToArray());
        }
    }

    [Fact]
    public void AmrInputGuard_MoreThanTheCap_StillRefusedAsTooLarge()
    {
        byte[] data = [.. Magic, .. Frame(7, 31), .. Frame(7, 31)];
        var (guard, _) = NewGuard(maxBytes: 50);

        Assert.Contains("Scoring:MaxAudioBytes (50)", Refusal(() => guard.Write(data, 0, data.Length)), StringComparison.Ordinal);
    }
}

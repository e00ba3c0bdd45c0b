namespace Camera.Tests;

public sealed class FrameHubTests
{
    private static Frame NewFrame(byte fill = 1) => Frame.Create(Enumerable.Repeat(fill, 200).ToArray(), 10, 10, DateTimeOffset.UnixEpoch);

    [Fact]
    public async Task NextAsync_ConsumerFellBehind_GetsNewestFrameNotAQueue()
    {
        using var hub = new FrameHub();
        var frames = Enumerable.Range(1, 5).Select(i => NewFrame((byte)i)).ToList();
        foreach (var frame in frames)
        {
            hub.Publish(frame);
        }

        var next = await hub.NextAsync(afterSequence: 1, CancellationToken.None);
        Assert.Equal(5, next.Sequence);
        Assert.Equal(5, next.Jpeg.Span[0]);
        next.Release();
    }

    [Fact]
    public async Task NextAsync_NothingNewer_WaitsForNextPublish()
    {
        using var hub = new FrameHub();
        hub.Publish(NewFrame());
        var waiting = hub.NextAsync(1, CancellationToken.None).AsTask();
        Assert.False(waiting.IsCompleted); // only a Publish completes it: the hub has no timer or thread of its own

        hub.Publish(NewFrame(7));
        var frame = await waiting.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(2, frame.Sequence);
        frame.Release();
    }

    [Fact]
    public async Task NextAsync_Cancelled_Throws()
    {
        using var hub = new FrameHub();
        using var cts = new CancellationTokenSource();
        var waiting = hub.NextAsync(0, cts.Token).AsTask();
        Assert.False(waiting.IsCompleted);

        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
    }

    [Fact]
    public void Publish_ReplacedFrame_ReturnsToPoolOnlyWhenLastReaderReleases()
    {
        using var hub = new FrameHub();
        var first = NewFrame();
        hub.Publish(first);
        var held = hub.AcquireLatest()!;
        Assert.Same(first, held);
        Assert.Equal(2, first.ReferenceCount);

        hub.Publish(NewFrame()); // the hub lets go of the first frame
        Assert.Equal(1, first.ReferenceCount);
        Assert.Equal(first.Length, first.Jpeg.Length); // still readable by its holder

        held.Release();
        Assert.Equal(0, first.ReferenceCount);
        Assert.Throws<ObjectDisposedException>(() => first.Jpeg);
    }

    [Fact]
    public async Task Publish_ManyConsumers_ShareOneBufferWithoutCopies()
    {
        using var hub = new FrameHub();
        var frame = NewFrame(9);
        hub.Publish(frame);
        var readers = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => hub.NextAsync(0, CancellationToken.None).AsTask()));

        Assert.All(readers, r => Assert.Same(frame, r));
        Assert.Equal(51, frame.ReferenceCount);
        foreach (var reader in readers)
        {
            reader.Release();
        }

        Assert.Equal(1, frame.ReferenceCount);
    }

    [Fact]
    public async Task Publish_StalledConsumer_NeverBlocksProducer()
    {
        using var hub = new FrameHub();
        hub.Publish(NewFrame());
        var stalled = await hub.NextAsync(0, CancellationToken.None); // held and never released during the run

        var producer = Task.Run(() =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                hub.Publish(NewFrame());
            }
        });
        await producer.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(10_001, hub.FramesPublished);
        Assert.Equal(1, stalled.ReferenceCount); // only the stalled reader keeps its one old frame
        stalled.Release();
    }

    [Fact]
    public void RegisterViewer_FirstOneRaisesFirstViewerArrived_AndViewersAreCounted()
    {
        using var hub = new FrameHub();
        var raised = 0;
        hub.FirstViewerArrived += () => raised++;

        using (hub.RegisterViewer())
        {
            using (hub.RegisterViewer())
            {
                Assert.Equal(2, hub.Viewers);
            }

            Assert.Equal(1, hub.Viewers);
        }

        Assert.Equal(0, hub.Viewers);
        Assert.Equal(1, raised); // only the first of the two woke capture

        using (hub.RegisterViewer())
        {
            Assert.Equal(2, raised); // and again after everyone had left
        }
    }

    [Fact]
    public void Frame_ReleasedTwice_Throws()
    {
        var frame = NewFrame();
        frame.Release();
        Assert.Throws<InvalidOperationException>(frame.Release);
        Assert.Throws<InvalidOperationException>(frame.AddReference);
    }
}

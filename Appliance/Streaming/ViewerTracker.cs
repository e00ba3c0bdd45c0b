using System.Collections.Concurrent;

namespace Appliance.Streaming;

/// <summary>Who is watching the stream right now, with per-viewer delivery counters for /api/status.</summary>
public sealed class ViewerTracker
{
    private readonly ConcurrentDictionary<long, Viewer> _viewers = new();
    private long _nextId;

    public int Count => _viewers.Count;

    public IReadOnlyCollection<Viewer> Snapshot() => [.. _viewers.Values];

    public Viewer Add(string remote, TimeProvider time, int? fpsCap)
    {
        var viewer = new Viewer(Interlocked.Increment(ref _nextId), remote, time.GetUtcNow(), fpsCap, this);
        _viewers[viewer.Id] = viewer;
        return viewer;
    }

    internal void Remove(Viewer viewer) => _viewers.TryRemove(viewer.Id, out _);

    /// <summary>One stream viewer; counters are updated only by its own request loop.</summary>
    public sealed class Viewer(long id, string remote, DateTimeOffset since, int? fpsCap, ViewerTracker owner) : IDisposable
    {
        private long _framesSent;
        private long _firstSequence;

        public long Id { get; } = id;

        public string Remote { get; } = remote;

        public DateTimeOffset Since { get; } = since;

        public int? FpsCap { get; } = fpsCap;

        public long FramesSent => Interlocked.Read(ref _framesSent);

        /// <summary>
        /// Frames published since this viewer's first one that it was not sent: skipped while it was still sending an
        /// older frame (a slow or stalled connection) or held back by its fps cap.
        /// </summary>
        public long FramesDropped(long publishedNow)
        {
            var first = Interlocked.Read(ref _firstSequence);
            return first == 0 ? 0 : Math.Max(0, publishedNow - first + 1 - FramesSent);
        }

        internal void Sent(long sequence)
        {
            Interlocked.CompareExchange(ref _firstSequence, sequence, 0);
            Interlocked.Increment(ref _framesSent);
        }

        public void Dispose() => owner.Remove(this);
    }
}

using System.Collections.Concurrent;

namespace Appliance.Streaming;

/// <summary>
/// Who is watching the stream right now, with per-viewer delivery counters for /api/status. The relay's shared stream
/// is one connection here but stands for everyone watching through the relay: it carries their number (the relay
/// sends it when the stream opens and whenever it changes).
/// </summary>
public sealed class ViewerTracker
{
    /// <summary>The most viewers one relay stream is believed to stand for.</summary>
    public const int MaxRelayAudience = 100_000;

    private readonly ConcurrentDictionary<long, Viewer> _viewers = new();
    private long _nextId;

    /// <summary>Connections streaming from this appliance (the relay's shared stream is one).</summary>
    public int Count => _viewers.Count;

    /// <summary>People watching: each direct viewer, and for the relay's stream the number watching through it.</summary>
    public int Audience => _viewers.Values.Sum(v => v.RelayAudience ?? 1);

    public IReadOnlyCollection<Viewer> Snapshot() => [.. _viewers.Values];

    /// <summary>A viewer; <paramref name="relayAudience"/> for the relay's shared stream (how many watch through it).</summary>
    public Viewer Add(string remote, TimeProvider time, int? fpsCap, DateTimeOffset? until = null, int? relayAudience = null)
    {
        var viewer = new Viewer(Interlocked.Increment(ref _nextId), remote, time.GetUtcNow(), fpsCap, until, relayAudience, this);
        _viewers[viewer.Id] = viewer;
        return viewer;
    }

    /// <summary>The relay's new count of its viewers, for its shared stream(s) open now; false when none is open.</summary>
    public bool SetRelayAudience(int count)
    {
        var any = false;
        foreach (var viewer in _viewers.Values)
        {
            any |= viewer.SetRelayAudience(count);
        }

        return any;
    }

    internal void Remove(Viewer viewer) => _viewers.TryRemove(viewer.Id, out _);

    /// <summary>One stream viewer; counters are updated only by its own request loop.</summary>
    public sealed class Viewer(
        long id, string remote, DateTimeOffset since, int? fpsCap, DateTimeOffset? until, int? relayAudience, ViewerTracker owner) : IDisposable
    {
        private long _framesSent;
        private long _firstSequence;
        private int _relayAudience = relayAudience is { } count ? Math.Clamp(count, 0, MaxRelayAudience) : -1;

        public long Id { get; } = id;

        public string Remote { get; } = remote;

        public DateTimeOffset Since { get; } = since;

        public int? FpsCap { get; } = fpsCap;

        /// <summary>When a view link's access (and so this stream) ends; null for logins and the relay.</summary>
        public DateTimeOffset? Until { get; } = until;

        /// <summary>For the relay's shared stream, how many watch through it; null for a direct viewer.</summary>
        public int? RelayAudience => Volatile.Read(ref _relayAudience) is var count and >= 0 ? count : null;

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

        internal bool SetRelayAudience(int count)
        {
            if (Volatile.Read(ref _relayAudience) < 0)
            {
                return false;
            }

            Volatile.Write(ref _relayAudience, Math.Clamp(count, 0, MaxRelayAudience));
            return true;
        }

        public void Dispose() => owner.Remove(this);
    }
}

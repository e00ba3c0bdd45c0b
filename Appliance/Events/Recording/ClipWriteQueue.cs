using Camera;

namespace Appliance.Events.Recording;

/// <summary>
/// Frames waiting for the clip writer, bounded: when full, the oldest waiting frame is dropped (released and
/// counted). Hand-written rather than a bounded <c>Channel</c> because a clip's end marker must never be the item
/// dropped (a clip would then never be finished), and a channel's DropOldest cannot tell items apart.
/// </summary>
internal sealed class ClipWriteQueue(int capacity, Action<ClipRecording> dropped)
{
    private readonly LinkedList<(ClipRecording Clip, Frame? Frame)> _items = new();
    private int _frames;
    private bool _completed;

    /// <summary>Queues a frame for a clip (the queue takes over the caller's reference), or the clip's end (null frame).</summary>
    public void Add(ClipRecording clip, Frame? frame)
    {
        ClipRecording? droppedFrom = null;
        lock (_items)
        {
            if (_completed)
            {
                frame?.Release();
                return;
            }

            if (frame is not null && _frames >= capacity)
            {
                for (var node = _items.First; node is not null; node = node.Next)
                {
                    if (node.Value.Frame is { } oldest)
                    {
                        _items.Remove(node);
                        _frames--;
                        oldest.Release();
                        droppedFrom = node.Value.Clip;
                        break;
                    }
                }
            }

            _items.AddLast((clip, frame));
            if (frame is not null)
            {
                _frames++;
            }

            Monitor.Pulse(_items);
        }

        if (droppedFrom is not null)
        {
            dropped(droppedFrom);
        }
    }

    /// <summary>Waits for the next item; false once <see cref="Complete"/> was called and nothing is left.</summary>
    public bool Take(out ClipRecording clip, out Frame? frame)
    {
        lock (_items)
        {
            while (_items.Count == 0 && !_completed)
            {
                Monitor.Wait(_items);
            }

            if (_items.First is not { } first)
            {
                clip = null!;
                frame = null;
                return false;
            }

            _items.RemoveFirst();
            (clip, frame) = first.Value;
            if (frame is not null)
            {
                _frames--;
            }

            return true;
        }
    }

    /// <summary>No more items: the writer finishes what is queued, then <see cref="Take"/> returns false.</summary>
    public void Complete()
    {
        lock (_items)
        {
            _completed = true;
            Monitor.PulseAll(_items);
        }
    }

    public int Count
    {
        get
        {
            lock (_items)
            {
                return _frames;
            }
        }
    }
}

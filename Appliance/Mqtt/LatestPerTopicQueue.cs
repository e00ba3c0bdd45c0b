namespace Appliance.Mqtt;

/// <summary>
/// Messages waiting for the broker: the newest payload per topic, at most <c>capacity</c> topics (past that the oldest
/// topic's message is dropped and counted). Put never blocks for long (one short lock), so the GPIO edge loop and timer
/// threads can call it; the bridge's sender takes messages in order of first arrival.
/// </summary>
internal sealed class LatestPerTopicQueue(int capacity)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, LinkedListNode<MqttOutgoing>> _byTopic = new(StringComparer.Ordinal);
    private readonly LinkedList<MqttOutgoing> _order = new();
    private long _dropped;

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _order.Count;
            }
        }
    }

    /// <summary>Messages dropped because more than capacity topics waited.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Queues a message, replacing one still waiting for the same topic (which keeps its place).</summary>
    public void Put(MqttOutgoing message)
    {
        lock (_lock)
        {
            if (_byTopic.TryGetValue(message.Topic, out var node))
            {
                node.Value = message;
                return;
            }

            if (_order.Count >= capacity)
            {
                var oldest = _order.First!;
                _order.RemoveFirst();
                _byTopic.Remove(oldest.Value.Topic);
                Interlocked.Increment(ref _dropped);
            }

            _byTopic[message.Topic] = _order.AddLast(message);
        }
    }

    public bool TryTake(out MqttOutgoing message)
    {
        lock (_lock)
        {
            if (_order.First is not { } first)
            {
                message = default!;
                return false;
            }

            _order.RemoveFirst();
            _byTopic.Remove(first.Value.Topic);
            message = first.Value;
            return true;
        }
    }

    /// <summary>Puts back a message whose publish failed, first in line, unless a newer one for its topic came meanwhile.</summary>
    public void PutBack(MqttOutgoing message)
    {
        lock (_lock)
        {
            if (_byTopic.ContainsKey(message.Topic))
            {
                return;
            }

            if (_order.Count >= capacity)
            {
                Interlocked.Increment(ref _dropped);
                return;
            }

            _byTopic[message.Topic] = _order.AddFirst(message);
        }
    }
}

/// <summary>One message to publish with QoS 1.</summary>
internal sealed record MqttOutgoing(string Topic, string Payload, bool Retain);

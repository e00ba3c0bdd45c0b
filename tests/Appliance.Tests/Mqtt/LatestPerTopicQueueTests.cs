using Appliance.Mqtt;

namespace Appliance.Tests.Mqtt;

public sealed class LatestPerTopicQueueTests
{
    [Fact]
    public void Put_SameTopicTwice_KeepsOnlyTheNewestInTheFirstPlace()
    {
        var queue = new LatestPerTopicQueue(capacity: 10);
        queue.Put(new MqttOutgoing("a", "ON", true));
        queue.Put(new MqttOutgoing("b", "1", true));
        queue.Put(new MqttOutgoing("a", "OFF", true));

        Assert.Equal(2, queue.Count);
        Assert.True(queue.TryTake(out var first));
        Assert.Equal(("a", "OFF"), (first.Topic, first.Payload));
        Assert.True(queue.TryTake(out var second));
        Assert.Equal("b", second.Topic);
        Assert.False(queue.TryTake(out _));
    }

    [Fact]
    public void Put_MoreTopicsThanCapacity_DropsTheOldestAndCountsThem()
    {
        var queue = new LatestPerTopicQueue(capacity: 3);
        for (var i = 0; i < 10_000; i++)
        {
            queue.Put(new MqttOutgoing($"t{i}", "x", true));
        }

        Assert.Equal(3, queue.Count);
        Assert.Equal(9_997, queue.Dropped);
        Assert.True(queue.TryTake(out var oldest));
        Assert.Equal("t9997", oldest.Topic);
    }

    [Fact]
    public void PutBack_AfterAFailedPublish_GoesFirstUnlessANewerOneCame()
    {
        var queue = new LatestPerTopicQueue(capacity: 10);
        queue.Put(new MqttOutgoing("a", "ON", true));
        queue.Put(new MqttOutgoing("b", "1", true));
        Assert.True(queue.TryTake(out var a));
        Assert.True(queue.TryTake(out var b));
        queue.Put(new MqttOutgoing("b", "2", true));

        queue.PutBack(a);
        queue.PutBack(b); // "b" has a newer value waiting: the failed one is not put back

        Assert.True(queue.TryTake(out var first));
        Assert.Equal("a", first.Topic);
        Assert.True(queue.TryTake(out var second));
        Assert.Equal("2", second.Payload);
        Assert.False(queue.TryTake(out _));
    }
}

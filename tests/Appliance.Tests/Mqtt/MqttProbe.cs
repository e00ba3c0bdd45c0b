using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using MQTTnet;
using MQTTnet.Protocol;

namespace Appliance.Tests.Mqtt;

/// <summary>The other MQTT client (Home Assistant's part): MQTTnet subscribed to everything, recording what arrives.</summary>
public sealed class MqttProbe : IAsyncDisposable
{
    private readonly IMqttClient _client;
    private readonly ConcurrentQueue<Received> _messages = new();

    private MqttProbe(IMqttClient client) => _client = client;

    public sealed record Received(string Topic, byte[] Payload, bool Retain, long Timestamp)
    {
        public string Text => Encoding.UTF8.GetString(Payload);
    }

    /// <summary>Called on MQTTnet's receive path for every message (the load harness timestamps there).</summary>
    public Action<Received>? OnMessage { get; set; }

    public IReadOnlyList<Received> Messages => [.. _messages];

    public static async Task<MqttProbe> ConnectAsync(MosquittoBroker broker, string filter = "#", string? user = null, string? password = null)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var probe = new MqttProbe(client);
        client.ApplicationMessageReceivedAsync += args =>
        {
            var message = new Received(args.ApplicationMessage.Topic, args.ApplicationMessage.Payload.ToArray(), args.ApplicationMessage.Retain, Stopwatch.GetTimestamp());
            probe._messages.Enqueue(message);
            probe.OnMessage?.Invoke(message);
            return Task.CompletedTask;
        };
        var options = new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", broker.Port).WithClientId($"probe-{Guid.NewGuid():N}");
        if (user is not null)
        {
            options.WithCredentials(user, password);
        }

        var result = await client.ConnectAsync(options.Build());
        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
        await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(filter, MqttQualityOfServiceLevel.AtLeastOnce).Build());
        return probe;
    }

    public Task PublishAsync(string topic, string payload, bool retain = false) => PublishAsync(topic, Encoding.UTF8.GetBytes(payload), retain);

    public async Task PublishAsync(string topic, byte[] payload, bool retain = false) =>
        await _client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithRetainFlag(retain)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());

    public void Clear() => _messages.Clear();

    /// <summary>The first message (already received or arriving within <paramref name="timeout"/>) that matches.</summary>
    public async Task<Received> WaitForAsync(Func<Received, bool> match, TimeSpan timeout, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (_messages.FirstOrDefault(match) is { } found)
            {
                return found;
            }

            if (deadline.Elapsed > timeout)
            {
                Assert.Fail($"no {what} within {timeout}; received: {string.Join(", ", _messages.Select(m => $"{m.Topic}={(m.Payload.Length > 60 ? $"[{m.Payload.Length} bytes]" : m.Text)}"))}");
            }

            await Task.Delay(10);
        }
    }

    public Task<Received> WaitForAsync(string topic, string payload, TimeSpan timeout) =>
        WaitForAsync(m => m.Topic == topic && m.Text == payload, timeout, $"'{payload}' on {topic}");

    public async ValueTask DisposeAsync()
    {
        if (_client.IsConnected)
        {
            try
            {
                await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build());
            }
            catch (MQTTnet.Exceptions.MqttCommunicationException)
            {
            }
        }

        _client.Dispose();
    }
}

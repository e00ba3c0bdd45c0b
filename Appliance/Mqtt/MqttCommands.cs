using System.Buffers;
using System.Text;
using System.Text.Json.Nodes;
using Appliance.Mqtt.Adapters;

namespace Appliance.Mqtt;

/// <summary>What a message from the broker asks of <see cref="MqttBridge"/>, which alone talks to the broker.</summary>
internal enum MqttRequest
{
    None,

    /// <summary>Publish an empty retained config on the message's topic: it removes the entity from Home Assistant.</summary>
    RemoveConfig,

    /// <summary>Publish discovery and every state again: Home Assistant (re)started and lost what it knew.</summary>
    Rediscover,

    /// <summary>Publish a fresh snapshot.</summary>
    Snapshot,
}

/// <summary>
/// The messages the bridge subscribes to: output and snapshot commands, Home Assistant's status, and this device's
/// retained discovery configs. Checked here, outputs switched here (logged as by "mqtt"); what needs the broker goes
/// back to the bridge as a <see cref="MqttRequest"/>, since this runs inside MQTTnet's receive loop and must not wait
/// for the broker. Logs under the bridge's category, as before it had its own class.
/// </summary>
internal sealed partial class MqttCommands(
    MqttOptions options, MqttTopics topics, IReadOnlyDictionary<string, JsonObject> discovery, IReadOnlyDictionary<string, MqttPin> pins,
    IMqttHardware hardware, ILogger logger)
{
    private const int MaxCommandBytes = 256;

    public MqttRequest Handle(string topic, ReadOnlySequence<byte> payload, bool retained)
    {
        try
        {
            return Check(topic, payload, retained);
        }
        catch (Exception ex) when (ex is KeyNotFoundException or InvalidOperationException or Hardware.Gpio.GpioException or DecoderFallbackException)
        {
            LogCommandFailed(logger, topic, ex.Message);
            return MqttRequest.None;
        }
    }

    private MqttRequest Check(string topic, ReadOnlySequence<byte> payload, bool retained)
    {
        if (topic.EndsWith("/config", StringComparison.Ordinal))
        {
            return CheckConfig(topic, payload, retained);
        }

        if (payload.Length > MaxCommandBytes)
        {
            LogMalformed(logger, topic, $"{payload.Length} bytes (at most {MaxCommandBytes})");
            return MqttRequest.None;
        }

        var text = Encoding.UTF8.GetString(payload);
        if (topic == topics.HomeAssistantStatus)
        {
            return CheckHomeAssistantStatus(topic, text);
        }

        if (retained)
        {
            // A command kept by the broker would switch again at every reconnect.
            LogMalformed(logger, topic, "retained command (publish commands without the retain flag)");
            return MqttRequest.None;
        }

        if (topic == topics.SnapshotCommand)
        {
            return CheckSnapshotCommand(topic, text);
        }

        Switch(topic, text);
        return MqttRequest.None;
    }

    /// <summary>
    /// A retained config of this device that the current settings no longer make (a pin removed or renamed) is
    /// removed; the ones it makes, and its own removals (empty), are left alone.
    /// </summary>
    private MqttRequest CheckConfig(string topic, ReadOnlySequence<byte> payload, bool retained)
    {
        if (retained && payload.Length > 0 && !discovery.ContainsKey(topic))
        {
            LogRemoved(logger, topic);
            return MqttRequest.RemoveConfig;
        }

        return MqttRequest.None;
    }

    private MqttRequest CheckHomeAssistantStatus(string topic, string text)
    {
        if (text == MqttTopics.Online)
        {
            return MqttRequest.Rediscover;
        }

        if (text != MqttTopics.Offline)
        {
            LogMalformed(logger, topic, $"payload '{Printable(text)}' (expected {MqttTopics.Online} or {MqttTopics.Offline})");
        }

        return MqttRequest.None;
    }

    private MqttRequest CheckSnapshotCommand(string topic, string text)
    {
        if (text != MqttTopics.Press)
        {
            LogMalformed(logger, topic, $"payload '{Printable(text)}' (expected {MqttTopics.Press})");
            return MqttRequest.None;
        }

        LogCommand(logger, topic, text);
        return MqttRequest.Snapshot;
    }

    /// <summary>A switch or pulse command for an output, run at once.</summary>
    private void Switch(string topic, string text)
    {
        var (name, command) = ParseCommand(topic, text);
        if (name is null)
        {
            LogMalformed(logger, topic, $"payload '{Printable(text)}' or topic not understood");
            return;
        }

        if (!pins.TryGetValue(name, out var pin) || pin.Role != MqttPinRole.Output)
        {
            LogMalformed(logger, topic, $"no output named '{name}'");
            return;
        }

        LogCommand(logger, topic, text);
        hardware.Switch(name, command, "mqtt");
    }

    private (string? Name, MqttSwitchCommand Command) ParseCommand(string topic, string text)
    {
        var prefix = options.BaseTopic + "/";
        if (!topic.StartsWith(prefix, StringComparison.Ordinal))
        {
            return (null, default);
        }

        var levels = topic[prefix.Length..].Split('/');
        return levels switch
        {
            ["switch", var name, "set"] when text == MqttTopics.On => (name, MqttSwitchCommand.On),
            ["switch", var name, "set"] when text == MqttTopics.Off => (name, MqttSwitchCommand.Off),
            ["button", var name, "pulse"] when text == MqttTopics.Press => (name, MqttSwitchCommand.Pulse),
            _ => (null, default),
        };
    }

    private static string Printable(string text) =>
        new([.. text.Take(40).Select(c => char.IsControl(c) ? '?' : c)]);

    [LoggerMessage(Level = LogLevel.Information, Message = "MQTT: removing {Topic} (its pin or reading is no longer configured)")]
    private static partial void LogRemoved(ILogger logger, string topic);

    [LoggerMessage(Level = LogLevel.Information, Message = "MQTT command {Topic} {Payload} by mqtt")]
    private static partial void LogCommand(ILogger logger, string topic, string payload);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MQTT: ignored message on {Topic}: {Problem}")]
    private static partial void LogMalformed(ILogger logger, string topic, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MQTT command on {Topic} failed: {Reason}")]
    private static partial void LogCommandFailed(ILogger logger, string topic, string reason);
}

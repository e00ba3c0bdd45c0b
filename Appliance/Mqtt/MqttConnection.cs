using System.Security.Cryptography.X509Certificates;
using MQTTnet;
using MQTTnet.Protocol;

namespace Appliance.Mqtt;

/// <summary>MQTTnet client options from <see cref="MqttOptions"/>, shared by the bridge and the doctor.</summary>
internal static class MqttConnection
{
    /// <summary>Acknowledge every read at once (<see cref="QuickAckStreamProvider"/>); off only to measure what it saves.</summary>
    internal static bool QuickAck { get; set; } = true;

    public static MqttClientOptions Build(MqttOptions options, string clientId, MqttTopics? willFor, TimeSpan timeout)
    {
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(options.Host, options.EffectivePort)
            .WithClientId(clientId)
            .WithCleanSession(true)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(15))
            .WithTimeout(timeout);
        if (QuickAck)
        {
            builder.WithStreamProvider(QuickAckStreamProvider.Instance);
        }

        if (options.User.Length > 0)
        {
            builder.WithCredentials(options.User, options.Password);
        }

        if (willFor is not null)
        {
            // The broker publishes "offline" (retained) for us when the connection dies without a goodbye.
            builder.WithWillTopic(willFor.Availability)
                .WithWillPayload(MqttTopics.Offline)
                .WithWillRetain()
                .WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce);
        }

        if (options.Tls)
        {
            builder.WithTlsOptions(tls =>
            {
                tls.UseTls().WithTargetHost(options.Host);
                if (options.CaFile.Length > 0)
                {
                    // A household's own CA publishes no revocation list, and the Pi may not reach one: trust the
                    // chain to this CA without a revocation check.
                    var chain = new X509Certificate2Collection();
                    chain.ImportFromPemFile(options.CaFile);
                    tls.WithTrustChain(chain).WithRevocationMode(X509RevocationMode.NoCheck);
                }
            });
        }

        return builder.Build();
    }
}

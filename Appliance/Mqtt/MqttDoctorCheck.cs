using System.Security.Authentication;
using Appliance.Doctor;
using MQTTnet;
using MQTTnet.Exceptions;

namespace Appliance.Mqtt;

/// <summary>Connects to the broker as the appliance would (own client id, so the running service is not kicked off) and reports.</summary>
internal sealed class MqttDoctorCheck(MqttOptions options) : IDoctorCheck
{
    public string Title => "MQTT broker";

    public async Task<DoctorResult> RunAsync(CancellationToken cancellationToken)
    {
        if (!options.Enabled)
        {
            return DoctorResult.Skip("Mqtt:Host is not set (MQTT is off)");
        }

        var where = $"{options.Host}:{options.EffectivePort}{(options.Tls ? " (TLS)" : "")}";
        using var client = new MqttClientFactory().CreateMqttClient();
        try
        {
            var result = await client.ConnectAsync(
                MqttConnection.Build(options, options.ClientId + "-doctor", willFor: null, TimeSpan.FromSeconds(5)), cancellationToken);
            if (result.ResultCode != MqttClientConnectResultCode.Success)
            {
                return DoctorResult.Fail($"{where} refused the connection: {result.ResultCode}",
                    "check Mqtt:User and Mqtt:Password (in secrets.json) against the broker's password file and ACL");
            }

            await client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), cancellationToken);
            var who = options.User.Length > 0 ? $"as {options.User}" : "anonymously";
            return DoctorResult.Pass($"connected to {where} {who} ({result.ResultCode}); discovery under {options.DiscoveryPrefix}/, topics under {options.BaseTopic}/");
        }
        catch (Exception ex) when (ex is AuthenticationException || ex.InnerException is AuthenticationException)
        {
            return DoctorResult.Fail($"TLS with {where} failed: {ex.InnerException?.Message ?? ex.Message}",
                "check Mqtt:CaFile (the CA that signed the broker's certificate) and that Mqtt:Host is the name in that certificate");
        }
        catch (Exception ex) when (ex is MqttCommunicationException or OperationCanceledException or IOException or System.Net.Sockets.SocketException)
        {
            return DoctorResult.Fail($"cannot reach {where}: {ex.Message}",
                "check Mqtt:Host and Mqtt:Port, that the broker runs (systemctl status mosquitto) and listens on that address");
        }
    }
}

namespace Appliance.Mqtt;

/// <summary>The <c>Mqtt</c> configuration section: Home Assistant (or any MQTT consumer) through a broker.</summary>
public sealed class MqttOptions
{
    public const string SectionName = "Mqtt";

    /// <summary>The broker's host name or address; empty (the default) turns MQTT off.</summary>
    public string Host { get; set; } = "";

    /// <summary>The broker's port; 0 (the default) means 1883, or 8883 with <see cref="Tls"/>.</summary>
    public int Port { get; set; }

    /// <summary>User name at the broker; empty connects anonymously.</summary>
    public string User { get; set; } = "";

    /// <summary>The user's password (keep it in secrets.json).</summary>
    public string Password { get; set; } = "";

    /// <summary>Connect with TLS (the broker's certificate is checked against the system's CAs or <see cref="CaFile"/>).</summary>
    public bool Tls { get; set; }

    /// <summary>A PEM file with the CA that signed the broker's certificate (a household's own CA); implies nothing without <see cref="Tls"/>.</summary>
    public string CaFile { get; set; } = "";

    /// <summary>The MQTT client id and the device's id in discovery (unique_ids start with it); default <c>appliance-HOSTNAME</c>.</summary>
    public string ClientId { get; set; } = "";

    /// <summary>Home Assistant's discovery prefix.</summary>
    public string DiscoveryPrefix { get; set; } = "homeassistant";

    /// <summary>Where states, commands and snapshots live; default <c>appliance/HOSTNAME</c>.</summary>
    public string BaseTopic { get; set; } = "";

    /// <summary>The device's name in Home Assistant; default the host name.</summary>
    public string DeviceName { get; set; } = "";

    /// <summary>The appliance's page for the device's <c>configuration_url</c>; default http://HOSTNAME:PORT/ from <c>Urls</c>.</summary>
    public string ConfigurationUrl { get; set; } = "";

    /// <summary>How often a snapshot goes to the camera's image topic (also at each press); 0 only at presses and on request.</summary>
    public TimeSpan SnapshotInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How often the sensor and diagnostic readings (fps, viewers, tunnel, uptime) are published.</summary>
    public TimeSpan StatusInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest wait between reconnect attempts (the first are shorter), so the broker's return is noticed within it.</summary>
    public TimeSpan ReconnectMaxDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>States kept while the broker is unreachable: the newest per topic, at most this many topics (the oldest go first).</summary>
    public int QueueCapacity { get; set; } = 256;

    public bool Enabled => !string.IsNullOrWhiteSpace(Host);

    /// <summary>Motion detection from the picture is on (<c>Motion:Enabled</c>): the camera gets a motion binary_sensor. Not a setting of its own.</summary>
    internal bool CameraMotion { get; set; }

    public int EffectivePort => Port != 0 ? Port : Tls ? 8883 : 1883;

    /// <summary>Fills the defaults that depend on the machine and the web address.</summary>
    internal void ApplyDefaults(string hostName, string? urls)
    {
        var host = Sanitize(hostName);
        ClientId = string.IsNullOrWhiteSpace(ClientId) ? $"appliance-{host}" : ClientId;
        BaseTopic = string.IsNullOrWhiteSpace(BaseTopic) ? $"appliance/{host}" : BaseTopic.TrimEnd('/');
        DeviceName = string.IsNullOrWhiteSpace(DeviceName) ? hostName : DeviceName;
        if (string.IsNullOrWhiteSpace(ConfigurationUrl))
        {
            var first = (urls ?? "http://0.0.0.0:8080").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "http://0.0.0.0:8080";
            foreach (var wildcard in new[] { "0.0.0.0", "[::]", "*", "+" })
            {
                first = first.Replace($"//{wildcard}", $"//{hostName}", StringComparison.Ordinal);
            }

            ConfigurationUrl = Uri.TryCreate(first, UriKind.Absolute, out var uri) ? new Uri(uri, "/").ToString() : "";
        }
    }

    /// <summary>The discovery node id: the client id with only the characters Home Assistant allows there.</summary>
    internal string NodeId => Sanitize(ClientId);

    internal static string Sanitize(string value) =>
        new([.. value.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_')]);

    /// <summary>Every problem with these settings, each naming its key; empty when valid (or when MQTT is off).</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!Enabled)
        {
            return errors;
        }

        if (Host.Any(char.IsWhiteSpace) || Host.Contains('/', StringComparison.Ordinal) || Uri.CheckHostName(Host) == UriHostNameType.Unknown)
        {
            errors.Add($"Mqtt:Host must be a host name or address, without scheme or port (got '{Host}').");
        }

        if (Port is < 0 or > 65535)
        {
            errors.Add($"Mqtt:Port must be between 1 and 65535, or 0 for the default (got {Port}).");
        }

        if (Password.Length > 0 && User.Length == 0)
        {
            errors.Add("Mqtt:Password is set but Mqtt:User is empty (the broker needs both).");
        }

        if (CaFile.Length > 0 && !Tls)
        {
            errors.Add("Mqtt:CaFile is set but Mqtt:Tls is false (set Mqtt:Tls=true to use it).");
        }
        else if (CaFile.Length > 0 && !File.Exists(CaFile))
        {
            errors.Add($"Mqtt:CaFile: {CaFile} does not exist.");
        }

        if (ClientId.Length > 0 && (ClientId.Length > 64 || ClientId.Any(c => c < 0x21 || c > 0x7E)))
        {
            errors.Add($"Mqtt:ClientId must be 1-64 printable ASCII characters without spaces (got '{ClientId}').");
        }

        if (!IsValidTopic(DiscoveryPrefix))
        {
            errors.Add($"Mqtt:DiscoveryPrefix must be a topic without wildcards (+, #), empty levels or spaces (got '{DiscoveryPrefix}').");
        }

        if (BaseTopic.Length > 0 && !IsValidTopic(BaseTopic.TrimEnd('/')))
        {
            errors.Add($"Mqtt:BaseTopic must be a topic without wildcards (+, #), empty levels or spaces (got '{BaseTopic}').");
        }

        if (ConfigurationUrl.Length > 0 && !(Uri.TryCreate(ConfigurationUrl, UriKind.Absolute, out var url) && url.Scheme is "http" or "https"))
        {
            errors.Add($"Mqtt:ConfigurationUrl must be an absolute http(s) URL (got '{ConfigurationUrl}').");
        }

        if (SnapshotInterval < TimeSpan.Zero || (SnapshotInterval > TimeSpan.Zero && SnapshotInterval < TimeSpan.FromSeconds(1)) || SnapshotInterval > TimeSpan.FromDays(1))
        {
            errors.Add($"Mqtt:SnapshotInterval must be 0 (only at presses) or between 00:00:01 and 1.00:00:00 (got {SnapshotInterval}).");
        }

        if (StatusInterval < TimeSpan.FromSeconds(1) || StatusInterval > TimeSpan.FromHours(1))
        {
            errors.Add($"Mqtt:StatusInterval must be between 00:00:01 and 01:00:00 (got {StatusInterval}).");
        }

        if (ReconnectMaxDelay < TimeSpan.FromMilliseconds(100) || ReconnectMaxDelay > TimeSpan.FromMinutes(5))
        {
            errors.Add($"Mqtt:ReconnectMaxDelay must be between 00:00:00.1 and 00:05:00 (got {ReconnectMaxDelay}).");
        }

        if (QueueCapacity is < 1 or > 10000)
        {
            errors.Add($"Mqtt:QueueCapacity must be between 1 and 10000 (got {QueueCapacity}).");
        }

        return errors;
    }

    private static bool IsValidTopic(string topic) =>
        topic.Length is > 0 and <= 200 && !topic.Any(c => c is '+' or '#' || char.IsWhiteSpace(c) || char.IsControl(c))
        && topic.Split('/').All(level => level.Length > 0);
}

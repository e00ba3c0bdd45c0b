namespace Appliance.WeCom.Api;

/// <summary>
/// Where WeCom API calls leave the appliance. The default goes straight out; the relay feature registers one whose
/// handler connects through the tunnel so calls come from the VPS's fixed address (WeCom's trusted-IP rule, 60020).
/// </summary>
public interface IWeComEgress
{
    /// <summary>A short description for logs and status ("direct", "relay tunnel").</summary>
    string Name { get; }

    /// <summary>The primary handler of the API HttpClient (e.g. a SocketsHttpHandler with a ConnectCallback).</summary>
    HttpMessageHandler CreatePrimaryHandler();
}

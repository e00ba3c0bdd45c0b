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

/// <summary>Calls go out from this machine's own address.</summary>
internal sealed class DirectEgress : IWeComEgress
{
    public string Name => "direct";

    public HttpMessageHandler CreatePrimaryHandler() => new SocketsHttpHandler
    {
        ConnectTimeout = TimeSpan.FromSeconds(10),
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        AutomaticDecompression = System.Net.DecompressionMethods.GZip,
        UseCookies = false,
    };
}

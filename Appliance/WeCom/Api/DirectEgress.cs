namespace Appliance.WeCom.Api;

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

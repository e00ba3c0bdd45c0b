namespace Relay.Tests.Infrastructure;

/// <summary>What the Load classes share: their HTTP clients and the median they report.</summary>
public static class LoadClients
{
    /// <summary>A client for one path under measurement: no cookies or redirects, with the household login when the path needs it.</summary>
    public static HttpClient Create(Uri address, bool login)
    {
        var client = new HttpClient(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false })
        {
            BaseAddress = address, Timeout = TimeSpan.FromSeconds(60),
        };
        if (login)
        {
            client.DefaultRequestHeaders.Authorization = TunnelledAppliance.FamilyLogin;
        }

        return client;
    }

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }
}

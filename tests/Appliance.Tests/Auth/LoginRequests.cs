using System.Net.Http.Headers;
using System.Text;
using Appliance.Tests.Infrastructure;

namespace Appliance.Tests.Auth;

/// <summary>The two ways a visitor offers the family password: the login form and Basic authentication.</summary>
internal static class LoginRequests
{
    /// <summary>The login form from <paramref name="visitor"/> through the tunnel, or from loopback when null.</summary>
    public static HttpRequestMessage Form(string? visitor, string password)
    {
        var request = visitor is null ? new HttpRequestMessage(HttpMethod.Post, "/login") : SimulatedTunnel.Request(HttpMethod.Post, "/login", visitor);
        request.Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["password"] = password, ["return"] = "/" });
        return request;
    }

    /// <summary>/api/status with Basic authentication as family, from <paramref name="visitor"/> through the tunnel.</summary>
    public static HttpRequestMessage Basic(string visitor, string password)
    {
        var request = SimulatedTunnel.Request(HttpMethod.Get, "/api/status", visitor);
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"family:{password}")));
        return request;
    }
}

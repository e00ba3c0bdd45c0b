using Appliance.Web;

namespace Appliance.Tests.Web;

public sealed class BrowserAddressLogTests
{
    [Theory]
    [InlineData("http://0.0.0.0:8080", "http://localhost:8080/", "http://pi.local:8080/")]
    [InlineData("http://[::]:8080", "http://localhost:8080/", "http://pi.local:8080/")]
    [InlineData("http://+:80", "http://localhost:80/", "http://pi.local:80/")]
    [InlineData("http://127.0.0.1:41234", "http://127.0.0.1:41234/", null)]
    [InlineData("http://[::1]:8080", "http://[::1]:8080/", null)]
    [InlineData("http://localhost:8080", "http://localhost:8080/", null)]
    [InlineData("https://192.0.2.7:8443", "https://192.0.2.7:8443/", "https://192.0.2.7:8443/")]
    public void Describe_ListeningAddress_GivesWhatABrowserOpens(string listening, string here, string? fromOthers)
    {
        var (h, o) = BrowserAddressLog.Describe(listening, "pi");

        Assert.Equal(here, h);
        Assert.Equal(fromOthers, o);
    }

    [Fact]
    public void Describe_Unparsable_GivesItBack()
    {
        Assert.Equal(("unix:/run/appliance.sock", (string?)null), BrowserAddressLog.Describe("unix:/run/appliance.sock", "pi"));
    }
}

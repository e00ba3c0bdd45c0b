namespace Relay.Tests.Hosting;

public sealed class ConfigurationDocsTests
{
    [Fact]
    public void ConfigurationPage_ListsEveryRelayKey()
    {
        var missing = ConfigurationDocs.MissingKeys(typeof(Relay.Hosting.RelayOptions).Assembly);

        Assert.True(missing.Count == 0, "docs/configuration.md does not name: " + string.Join(", ", missing));
    }
}

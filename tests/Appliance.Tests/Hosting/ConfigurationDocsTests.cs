namespace Appliance.Tests.Hosting;

public sealed class ConfigurationDocsTests
{
    [Fact]
    public void ConfigurationPage_ListsEveryApplianceAndCameraKey()
    {
        var missing = ConfigurationDocs.MissingKeys(typeof(Program).Assembly, typeof(Camera.CameraOptions).Assembly);

        Assert.True(missing.Count == 0, "docs/configuration.md does not name: " + string.Join(", ", missing));
    }

    [Fact]
    public void Keys_NestedAndNamedSettings_AreWalked()
    {
        var keys = ConfigurationDocs.Keys(typeof(Appliance.Hardware.Gpio.GpioOptions), "Gpio", 0).ToList();

        Assert.Contains("Gpio:Chip", keys);
        Assert.Contains("Gpio:Pins:NAME:Line", keys);
        Assert.Contains("Gpio:Pins:NAME:Aliases", keys);
    }
}

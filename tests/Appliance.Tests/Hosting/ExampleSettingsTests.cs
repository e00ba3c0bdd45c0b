using System.Reflection;
using System.Text;
using Appliance.Auth;
using Appliance.Hardware.Gpio;
using Appliance.Hardware.Sensors;
using Appliance.Hosting.Systemd;
using Appliance.Scoring;
using Appliance.Tunnel;
using Appliance.WeCom;
using Camera;
using Microsoft.Extensions.Configuration;

namespace Appliance.Tests.Hosting;

/// <summary>systemd/appliance.json.example promises every setting with its default; hold it to that.</summary>
public sealed class ExampleSettingsTests
{
    /// <summary>Keys the example fills with an example or a placeholder rather than the default.</summary>
    private static readonly HashSet<string> ExampleValues = new(StringComparer.OrdinalIgnoreCase)
    {
        "WeCom:Secret", "WeCom:EncodingAesKey", "Tunnel:RelayUrl", "Tunnel:Name", "Tunnel:Secret", "Scoring:Secret",
        "Scoring:OfficialAppSecret", "Motion:Enabled", "Sensors:living-room:Type", "Sensors:living-room:Enabled", "Sensors:living-room:Address",
        "Sensors:living-room:Device",
    };

    [Fact]
    public void ExampleFile_WithItsBlocksUncommented_NamesEveryOptionWithItsDefault()
    {
        var configuration = new ConfigurationBuilder()
            .AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(Uncommented(File.ReadAllText(ExamplePath)))))
            .Build();
        List<string> problems = [];

        Check<CameraOptions>(configuration, "Camera", problems);
        Check<WebAuthOptions>(configuration, WebAuthOptions.SectionName, problems, ignore: ["Password", "PasswordHash"]);
        Check<SystemdOptions>(configuration, "Systemd", problems);
        Check<WeComOptions>(configuration, WeComOptions.SectionName, problems);
        Check<TunnelOptions>(configuration, TunnelOptions.SectionName, problems);
        Check<ScoringOptions>(configuration, ScoringOptions.SectionName, problems);
        Check<SensorOptions>(configuration, "Sensors:living-room", problems);
        Check<GpioOptions>(configuration, GpioOptions.SectionName, problems, ignore: ["Pins"]);
        Check<Camera.Motion.MotionOptions>(configuration, Camera.Motion.MotionOptions.SectionName, problems, ignore: ["Masks"]);
        Assert.True(configuration.GetValue<bool>("Motion:Enabled"), "the shipped example turns motion detection on");

        // Pins are examples: between them they must show every pin setting.
        var pins = configuration.GetSection("Gpio:Pins").GetChildren().ToList();
        Assert.NotEmpty(pins);
        foreach (var property in Settable(typeof(GpioPinOptions)))
        {
            // A list (Aliases) is a section of its own, without a value.
            if (!pins.Any(pin => pin[property.Name] is not null || pin.GetSection(property.Name).GetChildren().Any()))
            {
                problems.Add($"Gpio:Pins:NAME:{property.Name} is in no example pin");
            }
        }

        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    private static string ExamplePath =>
        Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "systemd", "appliance.json.example"));

    /// <summary>Turns "  // "Key": …" lines back into JSON; prose comments ("  // The …") stay comments.</summary>
    private static string Uncommented(string text) => string.Join('\n', text.Split('\n').Select(line =>
    {
        var trimmed = line.TrimStart();
        if (!trimmed.StartsWith("//", StringComparison.Ordinal))
        {
            return line;
        }

        var rest = trimmed[2..].TrimStart();
        return rest.Length > 0 && rest[0] is '"' or '}' or ']' ? trimmed[2..] : line;
    }));

    private static void Check<T>(IConfiguration configuration, string section, List<string> problems, string[]? ignore = null)
        where T : new()
    {
        var defaults = new T();
        var bound = configuration.GetSection(section).Get<T>() ?? new T();
        foreach (var property in Settable(typeof(T)).Where(p => ignore?.Contains(p.Name) != true))
        {
            var key = $"{section}:{property.Name}";
            var stated = configuration.GetSection(key);
            if (!stated.Exists())
            {
                problems.Add($"{key} is missing");
            }
            else if (!ExampleValues.Contains(key) && !Same(property.GetValue(defaults), property.GetValue(bound)))
            {
                problems.Add($"{key} says {Show(property.GetValue(bound))}, the default is {Show(property.GetValue(defaults))}");
            }
        }
    }

    private static IEnumerable<PropertyInfo> Settable(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite && p.GetSetMethod() is not null);

    private static bool Same(object? a, object? b) =>
        a is string[] left && b is string[] right ? left.SequenceEqual(right) : Equals(a, b);

    private static string Show(object? value) => value is string[] array ? $"[{string.Join(", ", array)}]" : $"{value}";
}

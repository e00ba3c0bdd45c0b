using System.Diagnostics;
using System.Text.Json.Nodes;
using Appliance.Hosting;

namespace Appliance.Tests.Hardware;

/// <summary>
/// A configured Ds18b20 read through Iot.Device.Bindings' <c>OneWireThermometerDevice</c>, end to end: the appliance
/// runs as its own process in a private mount namespace whose /sys holds the w1 layout the kernel's w1-gpio and
/// w1-therm drivers make (bus master directory, its slave list, a device with its <c>w1_slave</c> text). No kernel
/// here or in the qemu lane can give a real 1-Wire bus (w1-gpio needs a device tree or board code, and there is no
/// simulated 1-Wire master), and the binding reads the fixed path /sys/bus/w1/devices, so this is the nearest to the
/// kernel we can reach: the binding's own enumeration and parsing, our configuration and /api/status are real.
/// </summary>
public sealed class OneWireSensorTests
{
    private const string Id = "28-00000a1b2c3d";

    // Two lines as w1-therm writes them: the scratchpad with its CRC check, then the temperature in m°C.
    private const string Reading = "58 01 4b 46 7f ff 08 10 f9 : crc=f9 YES\n58 01 4b 46 7f ff 08 10 f9 t=21500\n";

    [Fact]
    public async Task Ds18b20_ConfiguredOnTheW1Bus_IsReadThroughTheBindingIntoStatus()
    {
        // The kernel's layout: the bus master and its devices under /sys/devices, links to them in /sys/bus/w1/devices.
        // A tmpfs replaces /sys in the namespace; the runtime's view of the CPUs comes back from a fresh sysfs.
        var master = "/sys/devices/w1_bus_master1";
        var layout = string.Join(" && ",
            "real=$(mktemp -d)", "mount -t sysfs sysfs \"$real\"", "mount -t tmpfs tmpfs /sys",
            "mkdir -p /sys/devices/system /sys/bus/w1/devices", "mount --bind \"$real/devices/system\" /sys/devices/system",
            $"mkdir -p {master}/{Id}",
            $"printf '{Id}\\n' > {master}/w1_master_slaves",
            $"printf '{Reading.Replace("\n", "\\n", StringComparison.Ordinal)}' > {master}/{Id}/w1_slave",
            $"ln -s ../../..{master["/sys".Length..]} /sys/bus/w1/devices/w1_bus_master1",
            $"ln -s ../../..{master["/sys".Length..]}/{Id} /sys/bus/w1/devices/{Id}");
        var dll = Path.Combine(AppContext.BaseDirectory, "Appliance.dll");
        var state = Directory.CreateTempSubdirectory().FullName;
        var start = new ProcessStartInfo("unshare")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])["-m", "--propagation", "private", "sh", "-c",
            $"{layout} && exec dotnet '{dll}' --urls=http://127.0.0.1:0 --State:Directory='{state}' --Camera:Source=synthetic " +
            "--Web:TrustLoopback=true --Sensors:tank:Type=Ds18b20 --Sensors:tank:Device=" + Id + " --Sensors:tank:IntervalSeconds=1 " +
            "--Sensors:first:Type=Ds18b20 --Sensors:first:Bus=1 --Sensors:first:IntervalSeconds=1"])
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment[ApplianceConfiguration.ConfigDirectoryVariable] = Directory.CreateTempSubdirectory().FullName;
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            var address = await ListeningAddressAsync(process, TimeSpan.FromSeconds(60));
            using var client = new HttpClient { BaseAddress = address };
            JsonArray? sensors = null;
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (DateTime.UtcNow < deadline)
            {
                sensors = JsonNode.Parse(await client.GetStringAsync(new Uri("/api/status", UriKind.Relative)))!["sensors"]?.AsArray();
                if (sensors is { Count: 2 } && sensors.All(s => s!["values"]?.AsArray().Count > 0))
                {
                    break;
                }

                await Task.Delay(200);
            }

            Assert.NotNull(sensors);
            var byName = sensors.ToDictionary(s => s!["name"]!.GetValue<string>());
            foreach (var name in (string[])["first", "tank"])
            {
                var sensor = byName[name]!;
                Assert.Null(sensor["problem"]);
                Assert.Equal("Ds18b20", sensor["type"]!.GetValue<string>());
                Assert.Equal($"w1_bus_master1/{Id}", sensor["source"]!.GetValue<string>());
                var value = Assert.Single(sensor["values"]!.AsArray())!;
                Assert.Equal("temperature", value["quantity"]!.GetValue<string>());
                Assert.Equal(21.5, value["value"]!.GetValue<double>());
                Assert.Equal("°C", value["unit"]!.GetValue<string>());
            }
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        Assert.DoesNotContain("Unhandled exception", await stderr, StringComparison.Ordinal);
    }

    private static async Task<Uri> ListeningAddressAsync(Process process, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        const string Marker = "Now listening on: ";
        while (await process.StandardOutput.ReadLineAsync(cts.Token) is { } line)
        {
            var at = line.IndexOf(Marker, StringComparison.Ordinal);
            if (at >= 0)
            {
                // Keep draining stdout so the appliance never blocks on a full pipe.
                _ = process.StandardOutput.BaseStream.CopyToAsync(Stream.Null, CancellationToken.None);
                return new Uri(line[(at + Marker.Length)..].Trim());
            }
        }

        throw new InvalidOperationException("the appliance exited before listening");
    }
}

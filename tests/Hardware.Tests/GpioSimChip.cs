namespace Hardware.Tests;

/// <summary>
/// A gpio-sim chip made through configfs for one test: the "hardware" side reads outputs at sim_gpioN/value and
/// drives inputs through sim_gpioN/pull.
/// </summary>
internal sealed class GpioSimChip : IDisposable
{
    private const string ConfigRoot = "/sys/kernel/config/gpio-sim";
    private static int s_counter;
    private readonly string _config;
    private readonly string _sysfs;

    public GpioSimChip(int lines = 8)
    {
        if (!Directory.Exists(ConfigRoot))
        {
            throw new InvalidOperationException($"{ConfigRoot} is missing: the kernel needs gpio-sim and configfs (run inside the qemu lane).");
        }

        var id = Interlocked.Increment(ref s_counter);
        Label = $"appliance-sim{id}";
        _config = Path.Combine(ConfigRoot, $"sim{id}-{Environment.ProcessId}");
        Directory.CreateDirectory(_config);
        Directory.CreateDirectory(Path.Combine(_config, "bank0"));
        File.WriteAllText(Path.Combine(_config, "bank0", "num_lines"), lines.ToString(System.Globalization.CultureInfo.InvariantCulture));
        File.WriteAllText(Path.Combine(_config, "bank0", "label"), Label);
        File.WriteAllText(Path.Combine(_config, "live"), "1");
        ChipName = File.ReadAllText(Path.Combine(_config, "bank0", "chip_name")).Trim();
        var device = File.ReadAllText(Path.Combine(_config, "dev_name")).Trim();
        _sysfs = $"/sys/devices/platform/{device}/{ChipName}";
    }

    public string Label { get; }

    /// <summary>e.g. gpiochip1.</summary>
    public string ChipName { get; }

    public string DevicePath => $"/dev/{ChipName}";

    /// <summary>The physical level the simulated hardware sees on a line (1 or 0).</summary>
    public int Value(int line) => int.Parse(File.ReadAllText($"{_sysfs}/sim_gpio{line}/value").Trim(), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Drives an input from the hardware side: true = pull-up (high), false = pull-down (low).</summary>
    public void Pull(int line, bool high) => File.WriteAllText($"{_sysfs}/sim_gpio{line}/pull", high ? "pull-up" : "pull-down");

    public void Dispose()
    {
        File.WriteAllText(Path.Combine(_config, "live"), "0");
        Directory.Delete(Path.Combine(_config, "bank0"));
        Directory.Delete(_config);
    }
}

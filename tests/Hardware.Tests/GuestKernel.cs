using System.Diagnostics;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Hardware.Tests;

/// <summary>The qemu guest's kernel: module reloads (unplug/replug) and sysfs/configfs writes.</summary>
internal static class GuestKernel
{
    /// <summary>Where the lane put the decompressed modules and their parameters (tests/hardware/guest-init.sh).</summary>
    public static string ModulesDirectory =>
        Environment.GetEnvironmentVariable("HWLANE_MODULES") is { Length: > 0 } dir
            ? dir
            : throw new InvalidOperationException("HWLANE_MODULES is not set: Hardware tests run inside the qemu lane (tests/lanes/hardware.sh).");

    public static void Run(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed ({process.ExitCode}): {error}");
        }
    }

    public static void UnloadModule(string name) => Run("rmmod", name);

    /// <summary>
    /// Removes vivid's device as an unplug would: the driver lets go of it while files are still open (ENODEV from
    /// then on). The module itself cannot be unloaded until those files are closed.
    /// </summary>
    public static void UnbindVivid() => File.WriteAllText("/sys/bus/platform/drivers/vivid/unbind", "vivid.0");

    public static void LoadModule(string name)
    {
        var parameters = Path.Combine(ModulesDirectory, $"{name}.params");
        var arguments = new List<string> { Path.Combine(ModulesDirectory, $"{name}.ko") };
        if (File.Exists(parameters))
        {
            arguments.AddRange(File.ReadAllText(parameters).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }

        Run("insmod", [.. arguments]);
    }

    /// <summary>Waits until <paramref name="condition"/> holds, polling; fails the test with <paramref name="what"/> otherwise.</summary>
    public static void WaitFor(Func<bool> condition, TimeSpan timeout, string what)
    {
        var stopwatch = Stopwatch.StartNew();
        while (!condition())
        {
            if (stopwatch.Elapsed > timeout)
            {
                throw new TimeoutException($"timed out after {timeout.TotalSeconds} s waiting for {what}");
            }

            Thread.Sleep(20);
        }
    }
}

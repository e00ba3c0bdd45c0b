using Appliance.Auth;
using Appliance.Hosting;

namespace Appliance.Cli;

/// <summary>
/// Sub-commands that run instead of the service: <c>Appliance hash-password</c>, and those other features add
/// (doctor, cameras). Anything that is not a known verb starts the service.
/// </summary>
public static class CommandLine
{
    private static readonly Dictionary<string, (string Help, Func<string[], int> Run)> Verbs = new(StringComparer.Ordinal)
    {
        ["hash-password"] = ("Reads a password from standard input and prints the hash for Web:PasswordHash.", HashPassword),
        ["doctor"] = ("Checks settings, libraries, camera, GPIO, state directory and credentials; exit 1 when something is wrong.", Doctor.DoctorCommand.Run),
        ["cameras"] = ("Lists V4L2 capture devices with their formats, sizes and frame rates.", Hardware.HardwareCommands.Cameras),
        ["help"] = ("Lists the sub-commands.", _ => PrintHelp()),
        ["--help"] = ("Lists the sub-commands.", _ => PrintHelp()),
        ["--version"] = ("Prints the version.", _ => PrintVersion()),
    };

    public static bool TryRun(string[] args, out int exitCode)
    {
        ArgumentNullException.ThrowIfNull(args);
        exitCode = 0;
        if (args.Length == 0 || !Verbs.TryGetValue(args[0], out var verb))
        {
            return false;
        }

        exitCode = verb.Run(args[1..]);
        return true;
    }

    private static int PrintHelp()
    {
        Console.WriteLine("Usage: Appliance [sub-command] [--Section:Key=value …]");
        Console.WriteLine("Without a sub-command the appliance service starts. --version prints the version.");
        foreach (var (name, verb) in Verbs.Where(v => !v.Key.StartsWith('-')))
        {
            Console.WriteLine($"  {name,-15} {verb.Help}");
        }

        return ExitCodes.Success;
    }

    private static int PrintVersion()
    {
        Console.WriteLine($"Appliance {ProductVersion.Current}");
        return ExitCodes.Success;
    }

    private static int HashPassword(string[] args)
    {
        if (!Console.IsInputRedirected)
        {
            Console.Error.Write("Password: ");
        }

        var password = Console.In.ReadLine();
        if (string.IsNullOrEmpty(password))
        {
            Console.Error.WriteLine("No password given: type it, or pipe it in (echo -n secret | Appliance hash-password).");
            return ExitCodes.Usage;
        }

        Console.WriteLine(PasswordHasher.Hash(password));
        return ExitCodes.Success;
    }
}

using System.Security.Cryptography;

namespace Appliance.Auth;

/// <summary>
/// The one-time code that lets a visitor from the LAN choose the household password while none is set. It is made at
/// the first start without a password and kept in <see cref="FileName"/> (0600) in the state directory, so that a
/// restart keeps the code the log already printed and <c>Appliance doctor</c>, a separate process, can show it. Once a
/// password exists the file is deleted and no code is accepted.
/// </summary>
internal sealed partial class SetupCode(StateDirectory state, WebAuthOptions options, ILogger<SetupCode> logger)
{
    public const string FileName = "setup-code";

    /// <summary>No 0/o, 1/l/i: read off a terminal and typed on a phone.</summary>
    private const string Alphabet = "abcdefghjkmnpqrstuvwxyz23456789";
    private const int Length = 8; // 31^8 ≈ 2^39; with the guess limiter's 10 tries per address per 15 minutes

    private readonly Lock _lock = new();
    private string? _code;

    public string Path => state.File(FileName);

    /// <summary>At start: without a password, makes (or keeps) the code and logs it; with one, the code is dead.</summary>
    public void Announce()
    {
        if (options.HasPassword)
        {
            Forget();
            return;
        }

        LogSetupCode(logger, Format(Current()));
    }

    /// <summary>The code, made on first use.</summary>
    public string Current()
    {
        lock (_lock)
        {
            if (_code is not null)
            {
                return _code;
            }

            if (Read(Path) is { } kept)
            {
                return _code = kept;
            }

            var code = string.Create(Length, 0, static (span, _) =>
            {
                for (var i = 0; i < span.Length; i++)
                {
                    span[i] = Alphabet[RandomNumberGenerator.GetInt32(Alphabet.Length)];
                }
            });
            AtomicFile.WriteAllBytes(Path, System.Text.Encoding.ASCII.GetBytes(Format(code) + "\n"), AtomicFile.OwnerOnly);
            return _code = code;
        }
    }

    /// <summary>Whether <paramref name="candidate"/> is the code (case, spaces and dashes do not matter); never once a password is set.</summary>
    public bool Matches(string? candidate)
    {
        if (options.HasPassword || candidate is null)
        {
            return false;
        }

        var typed = Normalize(candidate);
        var expected = Current();
        return typed is not null && CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.ASCII.GetBytes(typed), System.Text.Encoding.ASCII.GetBytes(expected));
    }

    /// <summary>The password is set: the code is dead.</summary>
    public void Forget()
    {
        lock (_lock)
        {
            _code = null;
            File.Delete(Path);
        }
    }

    /// <summary>"abcd-efgh", as the log, the doctor and the page show it.</summary>
    public static string Format(string code) => $"{code[..(Length / 2)]}-{code[(Length / 2)..]}";

    /// <summary>The code kept in <paramref name="path"/>, or null (absent, unreadable or not a code): the doctor reads it too.</summary>
    public static string? Read(string path)
    {
        try
        {
            return File.Exists(path) ? Normalize(File.ReadAllText(path)) : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string? Normalize(string text)
    {
        var code = new string([.. text.Where(c => !char.IsWhiteSpace(c) && c != '-').Select(char.ToLowerInvariant)]);
        return code.Length == Length && code.All(c => Alphabet.Contains(c, StringComparison.Ordinal)) ? code : null;
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "No household password yet. From a phone or computer on the LAN, open /setup on this appliance and enter the setup code {Code} (on this machine itself no code is needed); 'Appliance doctor' shows the code too")]
    private static partial void LogSetupCode(ILogger logger, string code);
}

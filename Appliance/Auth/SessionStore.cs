using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Appliance.Auth;

/// <summary>
/// Login sessions kept on the appliance: the cookie holds only a random 256-bit id; the store knows which ids are
/// live, until when, and under which password setting they were made. Logging out removes one, "log out everywhere"
/// removes all, and a changed password makes every older one invalid. Kept in <c>web-sessions.json</c> in the state
/// directory (SHA-256 of each id, never the id itself), so logins survive a restart. At most
/// <see cref="MaxSessions"/>: the oldest goes first.
/// </summary>
internal sealed class SessionStore
{
    internal const int MaxSessions = 256;
    private const string FileName = "web-sessions.json";

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Session> _sessions = new(StringComparer.Ordinal);
    private readonly string _path;
    private readonly SignedTokens _tokens;
    private readonly TimeProvider _time;
    private string _passwordFingerprint;

    public SessionStore(StateDirectory state, SignedTokens tokens, WebAuthOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(options);
        _path = state.File(FileName);
        _tokens = tokens;
        _time = time;

        // Keyed by this appliance's secret: the file tells nothing about the password.
        _passwordFingerprint = tokens.SessionSubject(options.User, options.PasswordSetting);
        Load();
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _sessions.Count;
            }
        }
    }

    /// <summary>A new session; returns the id for the cookie.</summary>
    public string Create(TimeSpan lifetime, string remote)
    {
        var id = Base64Url(RandomNumberGenerator.GetBytes(32));
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            DropExpired(now);
            while (_sessions.Count >= MaxSessions)
            {
                _sessions.Remove(_sessions.MinBy(s => s.Value.Created).Key);
            }

            _sessions[Hash(id)] = new Session(now, now + lifetime, remote);
            Save();
        }

        return id;
    }

    /// <summary>Whether <paramref name="id"/> is a live session; its expiry when it is.</summary>
    public bool IsValid(string? id, out DateTimeOffset expires)
    {
        expires = default;
        if (string.IsNullOrEmpty(id) || id.Length > 100)
        {
            return false;
        }

        lock (_lock)
        {
            if (_sessions.TryGetValue(Hash(id), out var session) && _time.GetUtcNow() < session.Expires)
            {
                expires = session.Expires;
                return true;
            }

            return false;
        }
    }

    /// <summary>Ends one session (logout).</summary>
    public void Revoke(string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > 100)
        {
            return;
        }

        lock (_lock)
        {
            if (_sessions.Remove(Hash(id)))
            {
                Save();
            }
        }
    }

    /// <summary>Ends every session (log out everywhere: a lost phone). Returns how many there were.</summary>
    public int RevokeAll()
    {
        lock (_lock)
        {
            var count = _sessions.Count;
            _sessions.Clear();
            Save();
            return count;
        }
    }

    /// <summary>
    /// The password was set or changed while running (the setup page, the settings page): every login made under the
    /// old one ends, and new ones are bound to the new one (also in the file, so they outlive a restart).
    /// </summary>
    public void PasswordChanged(WebAuthOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        lock (_lock)
        {
            _passwordFingerprint = _tokens.SessionSubject(options.User, options.PasswordSetting);
            _sessions.Clear();
            Save();
        }
    }

    private void Load()
    {
        JsonNode? document;
        try
        {
            document = File.Exists(_path) ? JsonNode.Parse(File.ReadAllText(_path)) : null;
        }
        catch (Exception ex) when (ex is IOException or JsonException or UnauthorizedAccessException)
        {
            return; // an unreadable file logs everyone out; nobody gets in who should not
        }

        // Sessions made under another password are gone: changing the password logs everyone out.
        if (document?["password"]?.GetValue<string>() != _passwordFingerprint || document["sessions"] is not JsonArray list)
        {
            return;
        }

        var now = _time.GetUtcNow();
        foreach (var item in list)
        {
            if (item?["id"]?.GetValue<string>() is { Length: 64 } hash
                && item["expires"]?.GetValue<long>() is { } expires && DateTimeOffset.FromUnixTimeSeconds(expires) > now)
            {
                _sessions[hash] = new Session(
                    DateTimeOffset.FromUnixTimeSeconds(item["created"]?.GetValue<long>() ?? 0),
                    DateTimeOffset.FromUnixTimeSeconds(expires),
                    item["remote"]?.GetValue<string>() ?? "");
            }
        }
    }

    private void Save()
    {
        var list = new JsonArray();
        foreach (var (hash, session) in _sessions)
        {
            list.Add((JsonNode)new JsonObject
            {
                ["id"] = hash,
                ["created"] = session.Created.ToUnixTimeSeconds(),
                ["expires"] = session.Expires.ToUnixTimeSeconds(),
                ["remote"] = session.Remote,
            });
        }

        var document = new JsonObject { ["password"] = _passwordFingerprint, ["sessions"] = list };
        AtomicFile.WriteAllText(_path, document.ToJsonString(), AtomicFile.OwnerOnly);
    }

    private void DropExpired(DateTimeOffset now)
    {
        foreach (var expired in _sessions.Where(s => s.Value.Expires <= now).Select(s => s.Key).ToList())
        {
            _sessions.Remove(expired);
        }
    }

    private static string Hash(string id) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(id)));

    private static string Base64Url(byte[] data) => Convert.ToBase64String(data).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private sealed record Session(DateTimeOffset Created, DateTimeOffset Expires, string Remote);
}

using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;

namespace TunnelProtocol;

/// <summary>
/// The tunnel's opening exchange, shared by the relay and the appliance (this file is linked into both).
/// Over a fresh WebSocket the relay sends a challenge (a random nonce); the appliance answers with its name and
/// HMAC-SHA256(secret, purpose ‖ name ‖ nonce); the relay answers <see cref="Accepted"/> or closes. After that the
/// WebSocket carries a plain byte stream (HTTP/2 for the main tunnel, TLS for egress).
/// A nonce is used once, so a recorded answer is worthless on another connection.
/// </summary>
internal static class TunnelHandshake
{
    public const string ConnectPath = "_tunnel/connect";
    public const string EgressPath = "_tunnel/egress";
    public const string ConnectPurpose = "connect";
    public const string ChallengePrefix = "relay-tunnel-v1 ";
    public const string Accepted = "ok";
    public const int NonceLength = 32;
    public const int MaxMessageLength = 1024;

    /// <summary>How long closing a tunnel WebSocket politely may take before it is aborted (the link may be dead).</summary>
    public static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(1);

    /// <summary>Close reasons the relay gives, so that the appliance can say which setting to look at.</summary>
    public const string AuthenticationFailed = "authentication failed";

    public const string EgressNotAllowed = "host not on Relay:EgressAllowList";

    public const string EgressUnreachable = "cannot reach host";

    /// <summary>Header the relay puts on its own requests (MJPEG fan-out, snapshots); the value is <see cref="RelayKey"/>.</summary>
    public const string RelayKeyHeader = "X-Relay-Key";

    /// <summary>Header on WeCom callbacks the relay stored and replays later: the Unix time it received them.</summary>
    public const string ReplayHeader = "X-Relay-Replayed-At";

    /// <summary>
    /// Header on WeCom callbacks the relay forwards: its Unix time when it checked a live one's signature and signed
    /// timestamp against its own clock, or sends a stored one again. The appliance relies on it instead of its own clock
    /// (a Pi without a real-time clock is wrong after boot until NTP syncs).
    /// </summary>
    public const string TimeCheckedHeader = "X-Relay-Time-Checked";

    /// <summary>Path the relay probes with a visitor's credentials before serving them shared frames; 204 means they may view.</summary>
    public const string AuthorizePath = "/_relay/authorize";

    /// <summary>
    /// Header on the appliance's 204 from <see cref="AuthorizePath"/> when the visitor holds a view link: the seconds
    /// until the link expires, when the relay ends the visitor's shared stream as the appliance ends its own. Seconds
    /// left rather than a time, so a Pi clock that is off (no RTC, before NTP) does not cut streams short.
    /// </summary>
    public const string AccessSecondsLeftHeader = "X-Access-Seconds-Left";

    /// <summary>
    /// Header on the relay's shared-stream request and on its posts to <see cref="ViewersPath"/>: how many visitors
    /// watch that stream through the relay, so the appliance's status counts them rather than one connection.
    /// </summary>
    public const string ViewersHeader = "X-Relay-Viewers";

    /// <summary>Where the relay posts a changed viewer count (with its own key); 204 when taken.</summary>
    public const string ViewersPath = "/_relay/viewers";

    /// <summary>The purpose string for an egress stream to <paramref name="host"/>:<paramref name="port"/>.</summary>
    public static string EgressPurpose(string host, int port) => FormattableString.Invariant($"egress {host}:{port}");

    public static byte[] NewNonce() => RandomNumberGenerator.GetBytes(NonceLength);

    public static string Challenge(byte[] nonce) => ChallengePrefix + Convert.ToBase64String(nonce);

    public static byte[]? ParseChallenge(string message)
    {
        if (!message.StartsWith(ChallengePrefix, StringComparison.Ordinal))
        {
            return null;
        }

        try
        {
            var nonce = Convert.FromBase64String(message[ChallengePrefix.Length..]);
            return nonce.Length == NonceLength ? nonce : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    public static byte[] Proof(string secret, string purpose, string name, ReadOnlySpan<byte> nonce)
    {
        var prefix = Encoding.UTF8.GetBytes($"appliance-tunnel-v1\n{purpose}\n{name}\n");
        var message = new byte[prefix.Length + nonce.Length];
        prefix.CopyTo(message, 0);
        nonce.CopyTo(message.AsSpan(prefix.Length));
        return HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), message);
    }

    /// <summary>"name proofHex": what the appliance sends back.</summary>
    public static string Answer(string name, byte[] proof) => $"{name} {Convert.ToHexStringLower(proof)}";

    public static bool TryParseAnswer(string message, out string name, out byte[] proof)
    {
        name = "";
        proof = [];
        var space = message.IndexOf(' ', StringComparison.Ordinal);
        if (space <= 0 || message.Length - space - 1 != 64)
        {
            return false;
        }

        try
        {
            proof = Convert.FromHexString(message.AsSpan(space + 1));
        }
        catch (FormatException)
        {
            return false;
        }

        name = message[..space];
        return true;
    }

    /// <summary>The key the relay proves itself with on its own requests, bound to one tunnel session's nonce.</summary>
    public static string RelayKey(string secret, ReadOnlySpan<byte> nonce) =>
        Convert.ToHexStringLower(Proof(secret, "relay-internal", "relay", nonce));

    /// <summary>Appliance names: lowercase letters, digits and '-', 1–63 characters, not starting with '_' or '-'.</summary>
    public static bool IsValidName(string name) =>
        name.Length is > 0 and <= 63 && name[0] != '-' && name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-');

    public static async Task SendTextAsync(WebSocket socket, string text, CancellationToken cancellationToken) =>
        await socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, cancellationToken);

    /// <summary>Reads one whole text message no longer than <see cref="MaxMessageLength"/>; null on anything else.</summary>
    public static async Task<string?> ReceiveTextAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxMessageLength];
        var count = 0;
        while (true)
        {
            if (count == buffer.Length)
            {
                return null;
            }

            var result = await socket.ReceiveAsync(buffer.AsMemory(count), cancellationToken);
            if (result.MessageType != WebSocketMessageType.Text)
            {
                return null;
            }

            count += result.Count;
            if (result.EndOfMessage)
            {
                return Encoding.UTF8.GetString(buffer, 0, count);
            }
        }
    }
}

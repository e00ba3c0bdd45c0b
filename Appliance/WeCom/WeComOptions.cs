namespace Appliance.WeCom;

/// <summary>The <c>WeCom</c> section: the household's self-built WeCom app (企业微信自建应用).</summary>
public sealed class WeComOptions
{
    public const string SectionName = "WeCom";

    /// <summary>The CorpID (企业ID); also the receiveid inside every encrypted callback.</summary>
    public string CorpId { get; set; } = "";

    /// <summary>The app's AgentId.</summary>
    public int AgentId { get; set; }

    /// <summary>The app's Secret, for gettoken. Keep it in secrets.json (0640 root:appliance).</summary>
    public string Secret { get; set; } = "";

    /// <summary>The callback Token (signature key) from the app's "接收消息" settings.</summary>
    public string Token { get; set; } = "";

    /// <summary>The callback EncodingAESKey: 43 characters, base64 of the 32-byte AES key without the trailing '='.</summary>
    public string EncodingAesKey { get; set; } = "";

    /// <summary>Where the server APIs live.</summary>
    public string ApiBaseUrl { get; set; } = "https://qyapi.weixin.qq.com";

    /// <summary>
    /// How long one API call may take, from connecting until the whole answer is read (an upload's body included): a
    /// server that answers the headers and then stalls, or never answers, gives a transport error after this, never a hang.
    /// </summary>
    public TimeSpan HttpTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>UserIDs allowed to use the app; empty means nobody. Admins are always allowed.</summary>
    public string[] AllowedUsers { get; set; } = [];

    /// <summary>UserIDs who may also switch outputs (开/关/脉冲).</summary>
    public string[] Admins { get; set; } = [];

    /// <summary>Callbacks whose timestamp is further than this from now are refused (replay protection).</summary>
    public TimeSpan MaxClockSkew { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Messages the relay kept while the appliance was offline and replays later run only when they are at most this
    /// old; older ones are not run (a stale "open the door" must not fire hours later), and the sender is told so.
    /// </summary>
    public TimeSpan ReplayMaxAge { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>An answer ready within this time goes back as a passive reply; later ones go through message/send.</summary>
    public TimeSpan PassiveReplyBudget { get; set; } = TimeSpan.FromSeconds(3.5);

    /// <summary>
    /// How long a handled message is remembered so WeCom's retries do not run it again (at least
    /// <see cref="ReplayMaxAge"/> is used, so a relay replay of something already run is recognised too).
    /// </summary>
    public TimeSpan DedupeWindow { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Largest callback body accepted, in bytes (real callbacks are a few KB).</summary>
    public int MaxBodyBytes { get; set; } = 64 * 1024;

    /// <summary>How long a 直播/live link works.</summary>
    public TimeSpan LinkLifetime { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>The appliance's address as seen from the family's phones (https://cam.example.org); empty uses the relay's when configured.</summary>
    public string PublicBaseUrl { get; set; } = "";

    /// <summary>App messages per member per minute (WeCom drops the excess silently); extra messages are queued and merged.</summary>
    public int MessagesPerMemberPerMinute { get; set; } = 30;

    /// <summary>App messages per member per hour (WeCom's second limit, also dropped silently); extra ones wait and are merged.</summary>
    public int MessagesPerMemberPerHour { get; set; } = 1000;

    /// <summary>At most one alert per member per this interval; alerts in between are merged into the next one.</summary>
    public TimeSpan AlertInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The ffmpeg used for 录像/video clips; a bare name is looked up in PATH.</summary>
    public string FfmpegPath { get; set; } = "ffmpeg";

    /// <summary>Largest file media/get downloads, in bytes.</summary>
    public long MaxDownloadBytes { get; set; } = 20L * 1024 * 1024;

    /// <summary>True when the callback can work: CorpId, Token and EncodingAesKey are set.</summary>
    public bool IsConfigured => CorpId.Length > 0 && Token.Length > 0 && EncodingAesKey.Length > 0;

    // WeCom keeps UserIDs unique ignoring case, and the case a callback carries need not be the one typed into settings.
    public bool IsAllowed(string user) => IsAdmin(user) || AllowedUsers.Contains(user, StringComparer.OrdinalIgnoreCase);

    public bool IsAdmin(string user) => Admins.Contains(user, StringComparer.OrdinalIgnoreCase);

    /// <summary>Every problem with these settings, each naming its key; empty when valid.</summary>
    public IEnumerable<string> Validate()
    {
        var any = CorpId.Length > 0 || Token.Length > 0 || EncodingAesKey.Length > 0 || Secret.Length > 0;
        if (any)
        {
            if (CorpId.Length == 0)
            {
                yield return "WeCom:CorpId is required when other WeCom settings are set.";
            }

            if (Token.Length == 0)
            {
                yield return "WeCom:Token is required when other WeCom settings are set.";
            }

            if (EncodingAesKey.Length == 0)
            {
                yield return "WeCom:EncodingAesKey is required when other WeCom settings are set.";
            }
        }

        if (EncodingAesKey.Length > 0 && !Crypto.WeComCrypto.IsValidKey(EncodingAesKey))
        {
            yield return "WeCom:EncodingAesKey must be the 43-character key from the WeCom admin console.";
        }

        if (HttpTimeout <= TimeSpan.Zero || HttpTimeout > TimeSpan.FromMinutes(10))
        {
            yield return $"WeCom:HttpTimeout must be more than 0 and at most 10 minutes (got {HttpTimeout}).";
        }

        if (!Uri.TryCreate(ApiBaseUrl, UriKind.Absolute, out var api) || (api.Scheme != Uri.UriSchemeHttps && api.Scheme != Uri.UriSchemeHttp))
        {
            yield return $"WeCom:ApiBaseUrl must be an absolute http(s) URL (got '{ApiBaseUrl}').";
        }

        // The 直播/live link opens in a phone's browser: http(s) only (not the tunnel's wss://, not a path, which Uri
        // takes for a file on Linux).
        if (PublicBaseUrl.Length > 0
            && (!Uri.TryCreate(PublicBaseUrl, UriKind.Absolute, out var publicBase) || (publicBase.Scheme != Uri.UriSchemeHttps && publicBase.Scheme != Uri.UriSchemeHttp)))
        {
            yield return $"WeCom:PublicBaseUrl must be an absolute http(s) URL, e.g. https://cam.example.org (got '{PublicBaseUrl}').";
        }

        if (ReplayMaxAge < TimeSpan.Zero)
        {
            yield return $"WeCom:ReplayMaxAge must not be negative (got {ReplayMaxAge}).";
        }

        if (MaxClockSkew <= TimeSpan.Zero)
        {
            yield return $"WeCom:MaxClockSkew must be positive (got {MaxClockSkew}).";
        }

        if (PassiveReplyBudget <= TimeSpan.Zero || PassiveReplyBudget >= TimeSpan.FromSeconds(5))
        {
            yield return $"WeCom:PassiveReplyBudget must be between 0 and 5 seconds, WeCom's deadline (got {PassiveReplyBudget}).";
        }

        if (DedupeWindow < TimeSpan.FromMinutes(1))
        {
            yield return $"WeCom:DedupeWindow must be at least 00:01:00 to cover WeCom's retries (got {DedupeWindow}).";
        }

        if (MaxBodyBytes is < 1024 or > 1024 * 1024)
        {
            yield return $"WeCom:MaxBodyBytes must be between 1024 and 1048576 (got {MaxBodyBytes}).";
        }

        if (LinkLifetime <= TimeSpan.Zero)
        {
            yield return $"WeCom:LinkLifetime must be positive (got {LinkLifetime}).";
        }

        if (MessagesPerMemberPerMinute is < 1 or > 30)
        {
            yield return $"WeCom:MessagesPerMemberPerMinute must be between 1 and 30 (got {MessagesPerMemberPerMinute}).";
        }

        if (MessagesPerMemberPerHour is < 1 or > 1000)
        {
            yield return $"WeCom:MessagesPerMemberPerHour must be between 1 and 1000, WeCom's own limit (got {MessagesPerMemberPerHour}).";
        }

        if (AlertInterval < TimeSpan.Zero)
        {
            yield return $"WeCom:AlertInterval must not be negative (got {AlertInterval}).";
        }

        if (MaxDownloadBytes < 1)
        {
            yield return $"WeCom:MaxDownloadBytes must be positive (got {MaxDownloadBytes}).";
        }
    }
}

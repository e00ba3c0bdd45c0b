namespace Appliance.Scoring;

/// <summary>Where the voice comes from.</summary>
public enum ScoringMediaSource
{
    /// <summary>Official account (公众号) JSSDK uploads: <c>media/get/jssdk</c>, Speex 16 kHz in 60-byte frames.</summary>
    Official,

    /// <summary>WeCom chat voice: <c>media/get</c> through the WeCom feature, AMR 8 kHz transcoded to PCM.</summary>
    WeCom,
}

/// <summary>The <c>Scoring</c> section: the speech-scoring proxy (POST /api/ratings and 练习/practice).</summary>
public sealed class ScoringOptions
{
    public const string SectionName = "Scoring";

    /// <summary>The scorer's WebSocket URL (ws:// or wss://); empty disables the proxy.</summary>
    public string ScorerUrl { get; set; } = "";

    /// <summary>The scorer app's appID. With <see cref="Secret"/> set, every meta is re-signed here.</summary>
    public string AppId { get; set; } = "";

    /// <summary>The scorer app's secret; never leaves the appliance. Keep it in secrets.json.</summary>
    public string Secret { get; set; } = "";

    /// <summary><c>official</c> (media/get/jssdk, Speex) or <c>wecom</c> (WeCom media/get, AMR → PCM).</summary>
    public ScoringMediaSource MediaSource { get; set; } = ScoringMediaSource.Official;

    /// <summary>The official account's AppID, for its access token.</summary>
    public string OfficialAppId { get; set; } = "";

    /// <summary>The official account's AppSecret.</summary>
    public string OfficialAppSecret { get; set; } = "";

    /// <summary>Where WeChat's official-account APIs live (tests point it at a fake).</summary>
    public string WeChatApiBaseUrl { get; set; } = "https://api.weixin.qq.com";

    /// <summary>Use <c>cgi-bin/stable_token</c> (does not invalidate other holders' tokens); false uses <c>cgi-bin/token</c>.</summary>
    public bool UseStableToken { get; set; } = true;

    /// <summary>The whole voice download must finish within this.</summary>
    public TimeSpan DownloadTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>From connecting to the scorer until its answer (a 60 s clip takes about 30 s).</summary>
    public TimeSpan ScoringTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Ratings in flight at once; more get an immediate busy answer (status -40, HTTP 503).</summary>
    public int MaxConcurrent { get; set; } = 32;

    /// <summary>Seconds in the Retry-After header of a busy answer.</summary>
    public int RetryAfterSeconds { get; set; } = 2;

    /// <summary>Largest voice download in bytes (60 s of jssdk Speex is 180 KB, of AMR 12.2k about 96 KB).</summary>
    public long MaxAudioBytes { get; set; } = 1024 * 1024;

    /// <summary>Bytes per Speex frame in jssdk voice (quality 7 wideband: 60 bytes per 20 ms).</summary>
    public int SpeexFrameBytes { get; set; } = 60;

    /// <summary>
    /// Send the Speex frames that arrived together in one WebSocket message (each keeps its own length prefix);
    /// false sends one message per frame.
    /// </summary>
    public bool CoalesceFrames { get; set; } = true;

    /// <summary>The ffmpeg that transcodes AMR; a bare name is looked up in PATH.</summary>
    public string FfmpegPath { get; set; } = "ffmpeg";

    /// <summary>Holders of a signed view link may use /api/ratings too (default: admins and loopback only).</summary>
    public bool AllowViewers { get; set; }

    /// <summary>How long a 练习/practice reference text waits for the member's voice message.</summary>
    public TimeSpan PracticeLifetime { get; set; } = TimeSpan.FromMinutes(30);

    public bool IsConfigured => ScorerUrl.Length > 0;

    /// <summary>True when metas are re-signed on the appliance.</summary>
    public bool Signs => AppId.Length > 0 && Secret.Length > 0;

    /// <summary>Every problem with these settings, each naming its key; empty when valid.</summary>
    public IEnumerable<string> Validate()
    {
        if (ScorerUrl.Length > 0 && (!Uri.TryCreate(ScorerUrl, UriKind.Absolute, out var scorer) || (scorer.Scheme != "ws" && scorer.Scheme != "wss")))
        {
            yield return $"Scoring:ScorerUrl must be an absolute ws:// or wss:// URL (got '{ScorerUrl}').";
        }

        if ((AppId.Length > 0) != (Secret.Length > 0))
        {
            yield return "Scoring:AppId and Scoring:Secret must be set together (or neither, to forward metas unchanged).";
        }

        if (MediaSource == ScoringMediaSource.WeCom && ScorerUrl.Length > 0 && !Signs)
        {
            yield return "Scoring:MediaSource=wecom needs Scoring:AppId and Scoring:Secret: the PCM meta must be re-signed.";
        }

        if ((OfficialAppId.Length > 0) != (OfficialAppSecret.Length > 0))
        {
            yield return "Scoring:OfficialAppId and Scoring:OfficialAppSecret must be set together.";
        }

        if (!Uri.TryCreate(WeChatApiBaseUrl, UriKind.Absolute, out var api) || (api.Scheme != Uri.UriSchemeHttps && api.Scheme != Uri.UriSchemeHttp))
        {
            yield return $"Scoring:WeChatApiBaseUrl must be an absolute http(s) URL (got '{WeChatApiBaseUrl}').";
        }

        if (DownloadTimeout <= TimeSpan.Zero)
        {
            yield return $"Scoring:DownloadTimeout must be positive (got {DownloadTimeout}).";
        }

        if (ScoringTimeout <= TimeSpan.Zero)
        {
            yield return $"Scoring:ScoringTimeout must be positive (got {ScoringTimeout}).";
        }

        if (MaxConcurrent is < 1 or > 10_000)
        {
            yield return $"Scoring:MaxConcurrent must be between 1 and 10000 (got {MaxConcurrent}).";
        }

        if (RetryAfterSeconds is < 1 or > 3600)
        {
            yield return $"Scoring:RetryAfterSeconds must be between 1 and 3600 (got {RetryAfterSeconds}).";
        }

        if (MaxAudioBytes is < 1024 or > 64L * 1024 * 1024)
        {
            yield return $"Scoring:MaxAudioBytes must be between 1024 and 67108864 (got {MaxAudioBytes}).";
        }

        if (SpeexFrameBytes is < 1 or > 4096)
        {
            yield return $"Scoring:SpeexFrameBytes must be between 1 and 4096 (got {SpeexFrameBytes}).";
        }

        if (PracticeLifetime <= TimeSpan.Zero)
        {
            yield return $"Scoring:PracticeLifetime must be positive (got {PracticeLifetime}).";
        }
    }
}

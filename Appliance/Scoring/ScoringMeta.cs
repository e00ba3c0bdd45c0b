using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Appliance.Scoring;

/// <summary>A meta the appliance cannot use; the client gets status -1 (bad params).</summary>
public sealed class InvalidMetaException(string message) : Exception(message)
{
    public InvalidMetaException()
        : this("invalid meta")
    {
    }

    public InvalidMetaException(string message, Exception innerException)
        : this(message + ": " + innerException?.Message)
    {
    }
}

/// <summary>
/// The scorer's meta: <c>Base64(metaJson + ";hash=" + md5hex(appID + "+" + metaJson + "+" + salt + "+" + secret))</c>.
/// Re-signing strips everything after the last '}', sets appID and a fresh salt and recomputes the hash, so the
/// secret stays here and a client cannot choose the appID.
/// </summary>
public static class ScoringMeta
{
    /// <summary>Longest Base64 meta accepted (real ones are a few hundred bytes; the reftext dominates).</summary>
    public const int MaxBase64Length = 32 * 1024;

    /// <summary>The client's meta, checked to be Base64 of a JSON object (optionally followed by ";hash=…").</summary>
    public static JsonObject Decode(string metaBase64)
    {
        if (string.IsNullOrEmpty(metaBase64))
        {
            throw new InvalidMetaException("meta is empty");
        }

        if (metaBase64.Length > MaxBase64Length)
        {
            throw new InvalidMetaException($"meta is longer than {MaxBase64Length} characters");
        }

        byte[] raw;
        try
        {
            raw = Convert.FromBase64String(metaBase64);
        }
        catch (FormatException)
        {
            throw new InvalidMetaException("meta is not Base64");
        }

        var text = Encoding.UTF8.GetString(raw);
        var end = text.LastIndexOf('}');
        if (end < 0)
        {
            throw new InvalidMetaException("meta does not contain a JSON object");
        }

        try
        {
            // Duplicate keys are refused here: JsonObject would otherwise fail on them only when first used.
            return JsonNode.Parse(text.AsSpan(0, end + 1).ToString(), documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }) as JsonObject
                ?? throw new InvalidMetaException("meta is not a JSON object");
        }
        catch (JsonException ex)
        {
            throw new InvalidMetaException($"meta is not JSON ({ex.Message})");
        }
    }

    /// <summary>Sets appID and salt on <paramref name="meta"/> and returns the signed Base64 meta.</summary>
    public static string Sign(JsonObject meta, string appId, string secret, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(meta);
        ArgumentNullException.ThrowIfNull(time);
        meta["appID"] = appId;
        meta["salt"] = string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{time.GetUtcNow().ToUnixTimeSeconds()}:{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}");
        var json = meta.ToJsonString();
        var hash = Hash(appId, json, meta["salt"]!.GetValue<string>(), secret);
        return Convert.ToBase64String(Encoding.UTF8.GetBytes(json + ";hash=" + hash));
    }

    /// <summary>md5hex(appID + "+" + metaJson + "+" + salt + "+" + secret), lowercase.</summary>
    public static string Hash(string appId, string metaJson, string salt, string secret) =>
#pragma warning disable CA5351 // MD5 is what the scorer's protocol specifies.
        Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes(appId + "+" + metaJson + "+" + salt + "+" + secret)));
#pragma warning restore CA5351

    /// <summary>Makes the item describe raw PCM s16le 16 kHz mono (the transcoded WeCom voice).</summary>
    public static void DescribePcm(JsonObject meta)
    {
        ArgumentNullException.ThrowIfNull(meta);
        if (meta["item"] is not JsonObject item)
        {
            item = [];
            meta["item"] = item;
        }

        item["quality"] = -1;
        item["audioFormat"] = "pcm";
        item["audioSamplerate"] = 16000;
        item["audioChannel"] = 1;
    }

    /// <summary>A meta for a read-aloud of <paramref name="referenceText"/> in PCM (the 练习/practice path).</summary>
    public static JsonObject ReadAloud(string referenceText)
    {
        var meta = new JsonObject
        {
            ["item"] = new JsonObject
            {
                ["type"] = "readaloud",
                ["reftext"] = referenceText,
            },
        };
        DescribePcm(meta);
        return meta;
    }
}

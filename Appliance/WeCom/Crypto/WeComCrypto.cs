using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Appliance.WeCom.Crypto;

/// <summary>
/// WeCom's callback crypto: SHA1 signature over the ordinally sorted [token, timestamp, nonce, encrypt], and
/// AES-256-CBC (IV = first 16 key bytes) over random(16) ‖ len(BE32) ‖ msg ‖ receiveid, PKCS#7-padded to
/// 32-byte blocks. The padding is done by hand: .NET's PKCS7 mode refuses pads above the 16-byte AES block.
/// </summary>
public sealed class WeComCrypto
{
    private const int PadBlock = 32;
    private const int RandomLength = 16;
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly string _token;
    private readonly byte[] _key;
    private readonly byte[] _iv;
    private readonly byte[] _receiveId;

    public WeComCrypto(string token, string encodingAesKey, string receiveId)
    {
        ArgumentNullException.ThrowIfNull(token);
        ArgumentNullException.ThrowIfNull(receiveId);
        _token = token;
        _key = DecodeKey(encodingAesKey) ?? throw new WeComCryptoException(WeComCryptoError.IllegalAesKey, "EncodingAESKey must be 43 base64 characters decoding to 32 bytes");
        _iv = _key[..16];
        _receiveId = Encoding.UTF8.GetBytes(receiveId);
    }

    public static bool IsValidKey(string encodingAesKey) => DecodeKey(encodingAesKey) is not null;

    /// <summary>Lowercase hex SHA1 of the four values sorted ordinally and concatenated.</summary>
    public string Signature(string timestamp, string nonce, string encrypt)
    {
        ArgumentNullException.ThrowIfNull(timestamp);
        ArgumentNullException.ThrowIfNull(nonce);
        ArgumentNullException.ThrowIfNull(encrypt);
        string[] parts = [_token, timestamp, nonce, encrypt];
        Array.Sort(parts, StringComparer.Ordinal);
        var joined = string.Concat(parts);
        var length = Encoding.UTF8.GetByteCount(joined);
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var written = Encoding.UTF8.GetBytes(joined, rented);
            Span<byte> hash = stackalloc byte[SHA1.HashSizeInBytes];
#pragma warning disable CA5350 // SHA1 is what WeCom's protocol specifies; it is not our choice.
            SHA1.HashData(rented.AsSpan(0, written), hash);
#pragma warning restore CA5350
            return Convert.ToHexStringLower(hash);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Throws <see cref="WeComCryptoError.ValidateSignature"/> unless <paramref name="signature"/> matches.</summary>
    public void VerifySignature(string? signature, string timestamp, string nonce, string encrypt)
    {
        var expected = Signature(timestamp, nonce, encrypt);
        var given = signature ?? "";
        if (given.Length != expected.Length ||
            !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(given.ToLowerInvariant())))
        {
            throw new WeComCryptoException(WeComCryptoError.ValidateSignature, "msg_signature does not match");
        }
    }

    /// <summary>Decrypts <paramref name="encrypt"/> (base64) and checks the receiveid; returns the message text.</summary>
    public string Decrypt(string encrypt) => Decrypt(encrypt, out _);

    public string Decrypt(string encrypt, out byte[] random)
    {
        ArgumentNullException.ThrowIfNull(encrypt);
        var cipher = ArrayPool<byte>.Shared.Rent(((encrypt.Length + 3) / 4) * 3);
        try
        {
            if (!Convert.TryFromBase64String(encrypt, cipher, out var cipherLength))
            {
                throw new WeComCryptoException(WeComCryptoError.DecodeBase64, "Encrypt is not valid base64");
            }

            if (cipherLength == 0 || cipherLength % PadBlock != 0)
            {
                throw new WeComCryptoException(WeComCryptoError.DecryptAes, $"ciphertext length {cipherLength} is not a positive multiple of {PadBlock}");
            }

            var plain = ArrayPool<byte>.Shared.Rent(cipherLength);
            try
            {
                int plainLength;
                using (var aes = Aes.Create())
                {
                    aes.Key = _key;
                    plainLength = aes.DecryptCbc(cipher.AsSpan(0, cipherLength), _iv, plain, PaddingMode.None);
                }

                return Unpack(plain.AsSpan(0, plainLength), out random);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(plain, clearArray: true);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(cipher);
        }
    }

    /// <summary>Encrypts <paramref name="message"/> with a fresh random prefix (or <paramref name="random"/>, for tests).</summary>
    public string Encrypt(string message, ReadOnlySpan<byte> random = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (!random.IsEmpty && random.Length != RandomLength)
        {
            throw new ArgumentException($"The random prefix is {RandomLength} bytes.", nameof(random));
        }

        var messageLength = Encoding.UTF8.GetByteCount(message);
        var contentLength = RandomLength + 4 + messageLength + _receiveId.Length;
        var pad = PadBlock - (contentLength % PadBlock);
        var total = contentLength + pad;
        var plain = ArrayPool<byte>.Shared.Rent(total);
        var cipher = ArrayPool<byte>.Shared.Rent(total);
        try
        {
            var span = plain.AsSpan(0, total);
            if (random.IsEmpty)
            {
                RandomNumberGenerator.Fill(span[..RandomLength]);
            }
            else
            {
                random.CopyTo(span);
            }

            BinaryPrimitives.WriteUInt32BigEndian(span[RandomLength..], (uint)messageLength);
            Encoding.UTF8.GetBytes(message, span[(RandomLength + 4)..]);
            _receiveId.CopyTo(span[(RandomLength + 4 + messageLength)..]);
            span[contentLength..].Fill((byte)pad);
            int written;
            using (var aes = Aes.Create())
            {
                aes.Key = _key;
                written = aes.EncryptCbc(span, _iv, cipher, PaddingMode.None);
            }

            return Convert.ToBase64String(cipher.AsSpan(0, written));
        }
        catch (CryptographicException ex)
        {
            throw new WeComCryptoException(WeComCryptoError.EncryptAes, ex.Message);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(plain, clearArray: true);
            ArrayPool<byte>.Shared.Return(cipher);
        }
    }

    /// <summary>The passive-reply envelope: the encrypted reply, its signature, timestamp and nonce.</summary>
    public string EncryptReply(string replyXml, string timestamp, string nonce, ReadOnlySpan<byte> random = default)
    {
        var encrypt = Encrypt(replyXml, random);
        var signature = Signature(timestamp, nonce, encrypt);
        return $"<xml>\n<Encrypt><![CDATA[{encrypt}]]></Encrypt>\n<MsgSignature><![CDATA[{signature}]]></MsgSignature>\n<TimeStamp>{timestamp}</TimeStamp>\n<Nonce><![CDATA[{nonce}]]></Nonce>\n</xml>";
    }

    private string Unpack(ReadOnlySpan<byte> plain, out byte[] random)
    {
        var pad = plain[^1];
        if (pad is < 1 or > PadBlock || pad > plain.Length)
        {
            throw new WeComCryptoException(WeComCryptoError.DecryptAes, $"padding byte {pad} is outside 1..{PadBlock}");
        }

        foreach (var b in plain[^pad..])
        {
            if (b != pad)
            {
                throw new WeComCryptoException(WeComCryptoError.DecryptAes, "padding bytes are inconsistent (wrong key?)");
            }
        }

        var content = plain[..^pad];
        if (content.Length < RandomLength + 4)
        {
            throw new WeComCryptoException(WeComCryptoError.IllegalBuffer, "decrypted content is too short");
        }

        var messageLength = BinaryPrimitives.ReadUInt32BigEndian(content[RandomLength..]);
        var body = content[(RandomLength + 4)..];
        if (messageLength > (uint)body.Length)
        {
            throw new WeComCryptoException(WeComCryptoError.IllegalBuffer, $"message length {messageLength} exceeds the {body.Length} bytes decrypted");
        }

        var receiveId = body[(int)messageLength..];
        if (!receiveId.SequenceEqual(_receiveId))
        {
            throw new WeComCryptoException(WeComCryptoError.ValidateCorpId, "receiveid does not match WeCom:CorpId");
        }

        random = content[..RandomLength].ToArray();
        try
        {
            return StrictUtf8.GetString(body[..(int)messageLength]);
        }
        catch (DecoderFallbackException)
        {
            throw new WeComCryptoException(WeComCryptoError.IllegalBuffer, "message is not valid UTF-8");
        }
    }

    private static byte[]? DecodeKey(string? encodingAesKey)
    {
        if (encodingAesKey is not { Length: 43 })
        {
            return null;
        }

        Span<byte> key = stackalloc byte[33];
        return Convert.TryFromBase64String(encodingAesKey + "=", key, out var written) && written == 32 ? key[..32].ToArray() : null;
    }
}

using System.Security.Cryptography;
using System.Text;
using System.Xml;

namespace Relay.WeCom;

/// <summary>
/// WeCom's callback signature: lowercase hex SHA1 of [token, timestamp, nonce, Encrypt-or-echostr] sorted ordinally
/// and concatenated. The relay holds only the Token, so it can tell WeCom's calls from forgeries but read nothing.
/// </summary>
internal static class CallbackSignature
{
    public static string Compute(string token, string timestamp, string nonce, string encrypted)
    {
        string[] parts = [token, timestamp, nonce, encrypted];
        Array.Sort(parts, StringComparer.Ordinal);
#pragma warning disable CA5350 // WeCom's protocol fixes SHA1; the relay only checks it.
        return Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(string.Concat(parts))));
#pragma warning restore CA5350
    }

    public static bool Verify(string token, string? signature, string? timestamp, string? nonce, string? encrypted)
    {
        if (string.IsNullOrEmpty(signature) || timestamp is null || nonce is null || encrypted is null || signature.Length != 40)
        {
            return false;
        }

        var expected = Encoding.ASCII.GetBytes(Compute(token, timestamp, nonce, encrypted));
        return CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(signature.ToLowerInvariant()));
    }

    /// <summary>The Encrypt element of a callback body, or null (DTDs refused, size capped by the caller).</summary>
    public static string? ReadEncrypt(byte[] body)
    {
        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            MaxCharactersInDocument = body.Length * 2L + 1024,
            IgnoreComments = true,
        };
        try
        {
            using var reader = XmlReader.Create(new MemoryStream(body), settings);
            while (reader.Read())
            {
                if (reader.NodeType == XmlNodeType.Element && reader.Name == "Encrypt" && reader.Depth == 1)
                {
                    return reader.ReadElementContentAsString();
                }
            }
        }
        catch (XmlException)
        {
        }

        return null;
    }
}

using System.Globalization;
using System.Text;
using System.Xml;
using Appliance.WeCom.Crypto;

namespace Appliance.WeCom.Callback;

/// <summary>
/// Reads callback XML with DTDs prohibited, no resolver and a character cap (no XXE, no entity expansion), and
/// writes passive-reply XML.
/// </summary>
public static class CallbackXml
{
    /// <summary>The flat child elements of the root, as name → text. Throws <see cref="WeComCryptoError.ParseXml"/>.</summary>
    public static Dictionary<string, string> ReadFields(ReadOnlySpan<byte> utf8, int maxCharacters)
    {
        using var stream = new MemoryStream(utf8.ToArray(), writable: false);
        return ReadFields(stream, maxCharacters);
    }

    public static Dictionary<string, string> ReadFields(string xml, int maxCharacters)
    {
        using var reader = new StringReader(xml);
        using var xmlReader = XmlReader.Create(reader, Settings(maxCharacters));
        return ReadFields(xmlReader);
    }

    private static Dictionary<string, string> ReadFields(Stream stream, int maxCharacters)
    {
        using var xmlReader = XmlReader.Create(stream, Settings(maxCharacters));
        return ReadFields(xmlReader);
    }

    private static XmlReaderSettings Settings(int maxCharacters) => new()
    {
        DtdProcessing = DtdProcessing.Prohibit,
        XmlResolver = null,
        MaxCharactersInDocument = maxCharacters,
        MaxCharactersFromEntities = 1024,
        IgnoreComments = true,
        IgnoreProcessingInstructions = true,
        IgnoreWhitespace = true,
        CloseInput = false,
    };

    private static Dictionary<string, string> ReadFields(XmlReader reader)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            if (reader.MoveToContent() != XmlNodeType.Element)
            {
                throw new WeComCryptoException(WeComCryptoError.ParseXml, "no root element");
            }

            if (reader.IsEmptyElement)
            {
                return fields;
            }

            reader.ReadStartElement();
            while (reader.MoveToContent() == XmlNodeType.Element)
            {
                var name = reader.LocalName;
                if (reader.IsEmptyElement)
                {
                    fields[name] = "";
                    reader.Read();
                    continue;
                }

                reader.Read();
                if (reader.NodeType is XmlNodeType.Text or XmlNodeType.CDATA or XmlNodeType.EndElement)
                {
                    var builder = new StringBuilder();
                    while (reader.NodeType is XmlNodeType.Text or XmlNodeType.CDATA)
                    {
                        builder.Append(reader.Value);
                        reader.Read();
                    }

                    if (reader.NodeType == XmlNodeType.EndElement)
                    {
                        fields[name] = builder.ToString();
                        reader.Read();
                        continue;
                    }
                }

                // Nested structure (e.g. ScanCodeInfo): not a flat field, skip the rest of it.
                var depth = reader.Depth;
                while (reader.Depth >= depth && reader.Read())
                {
                }

                reader.Read();
            }

            return fields;
        }
        catch (XmlException ex)
        {
            throw new WeComCryptoException(WeComCryptoError.ParseXml, $"XML rejected: {ex.Message}");
        }
    }

    /// <summary>The plaintext of a passive reply; <paramref name="body"/> is already-escaped inner XML.</summary>
    public static string Reply(string toUser, string fromCorp, long createTime, string msgType, string body) =>
        string.Create(CultureInfo.InvariantCulture,
            $"<xml><ToUserName>{CData(toUser)}</ToUserName><FromUserName>{CData(fromCorp)}</FromUserName><CreateTime>{createTime}</CreateTime><MsgType>{CData(msgType)}</MsgType>{body}</xml>");

    /// <summary>Wraps text in CDATA, splitting any "]]&gt;" so it cannot close the section.</summary>
    public static string CData(string text) => "<![CDATA[" + text.Replace("]]>", "]]]]><![CDATA[>", StringComparison.Ordinal) + "]]>";

    /// <summary>Cuts <paramref name="text"/> to at most <paramref name="maxBytes"/> UTF-8 bytes without splitting a character.</summary>
    public static string TruncateUtf8(string text, int maxBytes)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (Encoding.UTF8.GetByteCount(text) <= maxBytes)
        {
            return text;
        }

        const string ellipsis = "…";
        var budget = maxBytes - Encoding.UTF8.GetByteCount(ellipsis);
        var length = 0;
        var bytes = 0;
        foreach (var rune in text.EnumerateRunes())
        {
            if (bytes + rune.Utf8SequenceLength > budget)
            {
                break;
            }

            bytes += rune.Utf8SequenceLength;
            length += rune.Utf16SequenceLength;
        }

        return text[..length] + ellipsis;
    }
}

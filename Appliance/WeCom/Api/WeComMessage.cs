using System.Text.Json;

namespace Appliance.WeCom.Api;

/// <summary>What a command answers or an alert sends: one app message of a WeCom message type.</summary>
public abstract record WeComMessage
{
    /// <summary>The message/send and passive-reply type name.</summary>
    public abstract string MsgType { get; }

    /// <summary>Whether WeCom accepts this type as a passive reply (text, image, video); others go through message/send.</summary>
    public virtual bool CanReplyPassively => false;

    /// <summary>Writes the type's body object (<c>"text": {...}</c>) for message/send.</summary>
    internal abstract void WriteSendBody(Utf8JsonWriter writer);

    /// <summary>The type's elements inside a passive reply.</summary>
    internal virtual string PassiveBody() => throw new NotSupportedException($"{MsgType} cannot be a passive reply.");
}

public sealed record TextMessage(string Content) : WeComMessage
{
    /// <summary>WeCom truncates text beyond 2048 bytes; cut it cleanly ourselves.</summary>
    public const int MaxBytes = 2048;

    public override string MsgType => "text";

    public override bool CanReplyPassively => true;

    internal override void WriteSendBody(Utf8JsonWriter writer)
    {
        writer.WriteStartObject("text");
        writer.WriteString("content", Callback.CallbackXml.TruncateUtf8(Content, MaxBytes));
        writer.WriteEndObject();
    }

    internal override string PassiveBody() => $"<Content>{Callback.CallbackXml.CData(Callback.CallbackXml.TruncateUtf8(Content, MaxBytes))}</Content>";
}

public sealed record ImageMessage(string MediaId) : WeComMessage
{
    public override string MsgType => "image";

    public override bool CanReplyPassively => true;

    internal override void WriteSendBody(Utf8JsonWriter writer)
    {
        writer.WriteStartObject("image");
        writer.WriteString("media_id", MediaId);
        writer.WriteEndObject();
    }

    internal override string PassiveBody() => $"<Image><MediaId>{Callback.CallbackXml.CData(MediaId)}</MediaId></Image>";
}

public sealed record VideoMessage(string MediaId, string Title, string Description) : WeComMessage
{
    public override string MsgType => "video";

    public override bool CanReplyPassively => true;

    internal override void WriteSendBody(Utf8JsonWriter writer)
    {
        writer.WriteStartObject("video");
        writer.WriteString("media_id", MediaId);
        writer.WriteString("title", Title);
        writer.WriteString("description", Description);
        writer.WriteEndObject();
    }

    internal override string PassiveBody() =>
        $"<Video><MediaId>{Callback.CallbackXml.CData(MediaId)}</MediaId><Title>{Callback.CallbackXml.CData(Title)}</Title><Description>{Callback.CallbackXml.CData(Description)}</Description></Video>";
}

public sealed record TextCardMessage(string Title, string Description, string Url, string ButtonText) : WeComMessage
{
    public override string MsgType => "textcard";

    internal override void WriteSendBody(Utf8JsonWriter writer)
    {
        writer.WriteStartObject("textcard");
        writer.WriteString("title", Title);
        writer.WriteString("description", Description);
        writer.WriteString("url", Url);
        writer.WriteString("btntxt", ButtonText);
        writer.WriteEndObject();
    }
}

public sealed record MarkdownMessage(string Content) : WeComMessage
{
    public override string MsgType => "markdown";

    internal override void WriteSendBody(Utf8JsonWriter writer)
    {
        writer.WriteStartObject("markdown");
        writer.WriteString("content", Content);
        writer.WriteEndObject();
    }
}

/// <summary>One article of a news message: a card with a title, a line of text, a picture and a link.</summary>
/// <param name="PictureUrl">A JPG or PNG WeCom fetches for the card (its servers, so a public address), or null for none.</param>
public sealed record NewsArticle(string Title, string Description, string Url, string? PictureUrl);

/// <summary>
/// news (图文消息): 1 to 8 articles, each a card the member taps to open its link. WeCom cuts a title beyond 128 bytes
/// and a description beyond 512; we cut them cleanly ourselves. Accepted as a passive reply and through message/send.
/// </summary>
public sealed record NewsMessage : WeComMessage
{
    public const int MaxArticles = 8;
    public const int MaxTitleBytes = 128;
    public const int MaxDescriptionBytes = 512;

    public NewsMessage(IReadOnlyList<NewsArticle> articles)
    {
        ArgumentNullException.ThrowIfNull(articles);
        if (articles.Count is 0 or > MaxArticles)
        {
            throw new ArgumentOutOfRangeException(nameof(articles), articles.Count, $"a news message has 1 to {MaxArticles} articles");
        }

        Articles = articles;
    }

    public IReadOnlyList<NewsArticle> Articles { get; }

    public override string MsgType => "news";

    public override bool CanReplyPassively => true;

    internal override void WriteSendBody(Utf8JsonWriter writer)
    {
        writer.WriteStartObject("news");
        writer.WriteStartArray("articles");
        foreach (var article in Articles)
        {
            writer.WriteStartObject();
            writer.WriteString("title", Callback.CallbackXml.TruncateUtf8(article.Title, MaxTitleBytes));
            writer.WriteString("description", Callback.CallbackXml.TruncateUtf8(article.Description, MaxDescriptionBytes));
            writer.WriteString("url", article.Url);
            if (article.PictureUrl is { } picture)
            {
                writer.WriteString("picurl", picture);
            }

            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    internal override string PassiveBody()
    {
        var body = new System.Text.StringBuilder();
        body.Append(System.Globalization.CultureInfo.InvariantCulture, $"<ArticleCount>{Articles.Count}</ArticleCount><Articles>");
        foreach (var article in Articles)
        {
            body.Append("<item><Title>").Append(Callback.CallbackXml.CData(Callback.CallbackXml.TruncateUtf8(article.Title, MaxTitleBytes)))
                .Append("</Title><Description>").Append(Callback.CallbackXml.CData(Callback.CallbackXml.TruncateUtf8(article.Description, MaxDescriptionBytes)))
                .Append("</Description><PicUrl>").Append(Callback.CallbackXml.CData(article.PictureUrl ?? ""))
                .Append("</PicUrl><Url>").Append(Callback.CallbackXml.CData(article.Url)).Append("</Url></item>");
        }

        return body.Append("</Articles>").ToString();
    }
}

namespace Appliance.Auth;

/// <summary>Mints view links (page, stream, snapshot) that work without a login until they expire.</summary>
public sealed class LinkSigner(SignedTokens tokens)
{
    public const string QueryParameter = "t";

    /// <summary>
    /// Appends a view token to <paramref name="pathAndQuery"/> (relative to the appliance, e.g. "/" or "/stream").
    /// Prefix it with the public base URL where the link leaves the house.
    /// </summary>
    public string Sign(string pathAndQuery, TimeSpan lifetime)
    {
        ArgumentException.ThrowIfNullOrEmpty(pathAndQuery);
        var token = tokens.Create(SignedTokens.LinkKind, "view", lifetime);
        var separator = pathAndQuery.Contains('?', StringComparison.Ordinal) ? '&' : '?';
        return $"{pathAndQuery}{separator}{QueryParameter}={Uri.EscapeDataString(token)}";
    }
}

namespace Appliance.WeCom.Commands;

/// <summary>
/// The appliance's address as seen from outside, for 直播 / live links. The tunnel feature registers one returning
/// the relay's public URL; <c>WeCom:PublicBaseUrl</c> takes precedence when set.
/// </summary>
public interface IPublicBaseUrl
{
    /// <summary>e.g. https://cam.example.org (no trailing slash needed); null while unknown.</summary>
    string? PublicBaseUrl { get; }
}

using System.Text.Json.Nodes;

namespace Appliance.Status;

/// <summary>
/// A feature's part of <c>/api/status</c> (and of the WeCom status answer): it adds its own properties, e.g. the
/// tunnel adds "tunnel", the sensor "environment".
/// </summary>
public interface IStatusContributor
{
    void Contribute(JsonObject status);

    /// <summary>
    /// As <see cref="Contribute(JsonObject)"/>; <paramref name="forAdmin"/> false when the reader holds only a view link
    /// (which may have been forwarded): no one's network address then.
    /// </summary>
    void Contribute(JsonObject status, bool forAdmin) => Contribute(status);
}

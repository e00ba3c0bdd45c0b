namespace Appliance.Doctor;

/// <summary>
/// Issue 21, finding 5: appliances under <c>/NAME/</c> paths of one relay host share one browser origin, so a page of
/// one can act with a visitor's login on another. Warns when the address the appliance is reached at (its view links'
/// base: <c>WeCom:PublicBaseUrl</c>, else the relay's URL under its name) has a path prefix.
/// </summary>
internal sealed class PublicOriginCheck(IConfiguration configuration) : IDoctorCheck
{
    public string Title => "Public address";

    public Task<DoctorResult> RunAsync(CancellationToken cancellationToken)
    {
        const string Hint = "give this appliance a host name of its own at the relay (Relay:Appliances:NAME:Hosts, e.g. cam.example.com) "
            + "and set WeCom:PublicBaseUrl to https://cam.example.com; a relay that serves only this appliance is safe as it is";
        if (configuration["WeCom:PublicBaseUrl"] is { Length: > 0 } configured)
        {
            if (!Uri.TryCreate(configured, UriKind.Absolute, out var uri))
            {
                return Task.FromResult(DoctorResult.Skip($"WeCom:PublicBaseUrl '{configured}' is not a URL (see 'Settings')"));
            }

            return Task.FromResult(uri.AbsolutePath.Trim('/').Length == 0
                ? DoctorResult.Pass($"{configured}: an origin of its own")
                : DoctorResult.Warn($"{configured} has a path prefix: other sites under {uri.GetLeftPart(UriPartial.Authority)} share this appliance's browser origin", Hint));
        }

        if (configuration["Tunnel:RelayUrl"] is { Length: > 0 } relay && configuration["Tunnel:Name"] is { Length: > 0 } name
            && Uri.TryCreate(relay, UriKind.Absolute, out var relayUri))
        {
            var origin = $"{(relayUri.Scheme == "wss" ? "https" : "http")}://{relayUri.Authority}";
            return Task.FromResult(DoctorResult.Warn(
                $"{origin}/{name}/ (the relay's address under this appliance's name) has a path prefix: other appliances on that relay share its browser origin",
                Hint));
        }

        return Task.FromResult(DoctorResult.Skip("no tunnel and no WeCom:PublicBaseUrl: reached on the home network only"));
    }
}

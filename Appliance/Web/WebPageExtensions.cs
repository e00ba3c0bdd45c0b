using Appliance.Auth;

namespace Appliance.Web;

/// <summary>The page at <c>/</c>: the live picture, the camera's state, and a snapshot fallback.</summary>
public static class WebPageExtensions
{
    private static readonly Lazy<byte[]> IndexPage = new(() => ReadAsset("Web/index.html"));

    public static WebApplication MapWebPage(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGet("/", (HttpContext context) =>
        {
            context.Response.Headers.CacheControl = "no-cache";
            return Results.Bytes(IndexPage.Value, "text/html; charset=utf-8");
        }).RequireAuthorization(WebPolicies.Viewer);

        // Browsers ask for it on every page; answering keeps their consoles (and our browser test) free of 404s.
        app.MapGet("/favicon.ico", () => Results.NoContent()).AllowAnonymous();
        BrowserAddressLog.Register(app);
        return app;
    }

    internal static byte[] ReadAsset(string name)
    {
        using var stream = typeof(WebPageExtensions).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"Embedded asset {name} is missing from the build.");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}

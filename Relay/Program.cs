namespace Relay;

/// <summary>
/// The VPS side of the tunnel. Until the relay feature lands it only answers its health check, so the unit file,
/// publish script and CI smoke test have a real program to work with.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var app = BuildApp(args);
        await app.RunAsync();
        return 0;
    }

    public static WebApplication BuildApp(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        var app = builder.Build();
        app.MapGet("/healthz", () => Results.Text("ok\n", "text/plain"));
        return app;
    }
}

namespace Tests.Shared;

/// <summary>Reading long responses (MJPEG streams) in tests, shared by every test project.</summary>
public static class BodyReading
{
    /// <summary>Reads until the body ends or <paramref name="limit"/> passes; how much came, and whether it ended.</summary>
    public static async Task<(long Bytes, bool Ended)> ReadUntilEndAsync(Stream body, TimeSpan limit)
    {
        using var timeout = new CancellationTokenSource(limit);
        var buffer = new byte[64 * 1024];
        long total = 0;
        try
        {
            int n;
            while ((n = await body.ReadAsync(buffer, timeout.Token)) > 0)
            {
                total += n;
            }

            return (total, true);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            return (total, false);
        }
    }

    /// <summary>
    /// A view link's stream (opened when <paramref name="sinceOpened"/> started, the link 2–3 s from expiry) ends when the
    /// link does, after carrying frames; the login's stream, opened alongside, goes on.
    /// </summary>
    public static async Task AssertLinkStreamEndsLoginStreamGoesOnAsync(HttpResponseMessage link, HttpResponseMessage login, System.Diagnostics.Stopwatch sinceOpened)
    {
        Xunit.Assert.Equal(System.Net.HttpStatusCode.OK, link.StatusCode);
        Xunit.Assert.Equal(System.Net.HttpStatusCode.OK, login.StatusCode);
        var (received, ended) = await ReadUntilEndAsync(await link.Content.ReadAsStreamAsync(), TimeSpan.FromSeconds(15));
        var lasted = sinceOpened.Elapsed;

        Xunit.Assert.True(ended, $"the link's stream was still open after 15 s ({received} bytes)");
        Xunit.Assert.InRange(lasted, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(10)); // the link had 2-3 s left
        Xunit.Assert.True(received > 10_000, $"only {received} bytes before the end");
        var (more, loginEnded) = await ReadUntilEndAsync(await login.Content.ReadAsStreamAsync(), TimeSpan.FromSeconds(1));
        Xunit.Assert.False(loginEnded);
        Xunit.Assert.True(more > 10_000, $"the login's stream gave {more} bytes in the second after");
    }
}

namespace Tests.Shared;

/// <summary>Reading long responses (MJPEG streams) in tests, shared by every test project.</summary>
internal static class BodyReading
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
}

using System.Globalization;
using System.Text.Json;
using Appliance.Auth;

namespace Appliance.Scoring;

/// <summary>
/// <c>POST /api/ratings</c> <c>{"mediaId", "meta", "accessToken"?}</c>, compatible with the original backend: the
/// scorer's JSON verbatim, or <c>{status, msg, flag}</c>. An accessToken in the body is used only when the caller
/// is an admin (loopback, login or Basic); from a view-link holder it is refused, so the appliance cannot be used
/// to call WeChat with someone else's token from the relay's whitelisted address.
/// </summary>
internal sealed partial class RatingsEndpoint(RatingService ratings, ScoringOptions options, ILogger<RatingsEndpoint> logger)
{
    public const string Path = "/api/ratings";
    private const int MaxBodyBytes = 64 * 1024;

    public async Task HandleAsync(HttpContext context)
    {
        RatingOutcome outcome;
        try
        {
            outcome = await ParseAsync(context) is { } request
                ? request.AccessToken is not null && context.GetWebPrincipal()?.Role != WebRole.Admin
                    ? RatingOutcome.Error(RatingService.StatusBadParams, "accessToken is accepted only from trusted callers (admin or loopback)", StatusCodes.Status403Forbidden)
                    : await ratings.RateAsync(request, context.RequestAborted)
                : RatingOutcome.Error(RatingService.StatusBadParams, "the body must be JSON {\"mediaId\": \"…\", \"meta\": \"<base64>\", \"accessToken\"?: \"…\"}", StatusCodes.Status400BadRequest);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; everything downstream has been cancelled.
            return;
        }
        catch (BadHttpRequestException ex)
        {
            outcome = RatingOutcome.Error(RatingService.StatusBadParams, ex.Message, StatusCodes.Status400BadRequest);
        }

        var response = context.Response;
        response.StatusCode = outcome.HttpStatus;
        response.ContentType = "application/json; charset=utf-8";
        response.Headers.CacheControl = "no-store";
        if (outcome.RetryAfterSeconds > 0)
        {
            response.Headers.RetryAfter = outcome.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        }

        response.ContentLength = outcome.Body.Length;
        await response.Body.WriteAsync(outcome.Body, context.RequestAborted);
    }

    private async Task<RatingRequest?> ParseAsync(HttpContext context)
    {
        if (context.Request.ContentLength > MaxBodyBytes)
        {
            return null;
        }

        var buffer = new byte[MaxBodyBytes + 1];
        var count = await context.Request.Body.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, context.RequestAborted);
        if (count > MaxBodyBytes)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(buffer.AsMemory(0, count));
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            var mediaId = String(root, "mediaId");
            var meta = String(root, "meta");
            var token = String(root, "accessToken");
            if (string.IsNullOrEmpty(mediaId) || mediaId.Length > 512 || string.IsNullOrEmpty(meta))
            {
                return null;
            }

            return new RatingRequest(mediaId, meta, options.MediaSource, string.IsNullOrEmpty(token) ? null : token);
        }
        catch (JsonException ex)
        {
            LogNotJson(logger, ex.Message);
            return null;
        }
    }

    private static string? String(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    [LoggerMessage(Level = LogLevel.Information, Message = "POST /api/ratings with a body that is not JSON ({Reason})")]
    private static partial void LogNotJson(ILogger logger, string reason);
}

using Appliance.WeCom.Api;

namespace Appliance.WeCom.Commands;

/// <summary>
/// Gets a member's voice message before the "text commands only" answer: a feature that expects voice (the
/// 练习/practice scoring) answers it; every other handler returns null and the default answer follows.
/// </summary>
public interface IWeComVoiceHandler
{
    /// <summary>The answer, or null when this handler does not want the voice message.</summary>
    Task<WeComMessage?> TryHandleAsync(WeComCommandContext context, CancellationToken cancellationToken);
}

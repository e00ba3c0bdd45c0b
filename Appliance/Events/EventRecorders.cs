using Appliance.Events.Recording;
using Appliance.Hardware.Gpio;
using Camera.Motion;

namespace Appliance.Events;

/// <summary>
/// Motion events into the index: a row when motion starts (end empty while under way), its end when it ends; and
/// their clips, when recording runs.
/// </summary>
internal sealed partial class MotionEventRecorder(EventStore store, ILogger<MotionEventRecorder> logger, ClipRecorder? clips = null) : IMotionListener
{
    private long? _open;

    public void MotionStarted(DateTimeOffset start) => Guard(() =>
    {
        var id = store.Add("motion", start, null, "camera", null);
        _open = id;
        clips?.BeginMotion(id, start);
    });

    public void MotionEnded(MotionEvent motion) => Guard(() =>
    {
        if (_open is { } id)
        {
            store.SetEnd(id, motion.End);
            clips?.End(id, motion.End, motion.PeakAt);
        }
        else
        {
            store.Add("motion", motion.Start, motion.End, "camera", null);
        }

        _open = null;
    });

    /// <summary>A full or broken disk must not stop motion detection: the failure is logged, the analyser goes on.</summary>
    private void Guard(Action write)
    {
        try
        {
            write();
        }
        catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or IOException)
        {
            LogWriteFailed(logger, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Events: a motion event could not be written to the index")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception);
}

/// <summary>
/// PIR and button presses (pins with <c>OnPress</c>) into the same index, kind <c>press</c>, then on to the alert sink
/// they were meant for: the hardware feature's sink is wrapped, not changed. Each press records a clip when recording runs.
/// A motion sensor's press (<c>OnPress: Alert</c>, a PIR) alerts only while armed, as the camera's own motion does; a
/// doorbell's (<c>OnPress: Snapshot</c>) always: someone ringing wants an answer whether the house is armed or not.
/// </summary>
internal sealed partial class PressEventRecorder(
    IMotionAlertSink inner, EventStore store, ArmingState arming, ILogger<PressEventRecorder> logger, ClipRecorder? clips = null) : IMotionAlertSink
{
    public Task SendAsync(GpioAlert alert, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(alert);
        try
        {
            var id = store.Add("press", alert.At, alert.At, alert.Pin, null);
            clips?.Press(id, alert.At);
        }
        catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or IOException)
        {
            LogWriteFailed(logger, ex, alert.Pin);
        }

        if (alert.Action == GpioPressAction.Alert && !arming.IsActive)
        {
            // Recorded (and its clip), not sent. The snapshot stays the GPIO service's to release, as after a send.
            LogNotArmed(logger, alert.Pin);
            return Task.CompletedTask;
        }

        return inner.SendAsync(alert, cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Events: {Pin} saw motion while disarmed (or outside Events:ArmedHours): recorded, no alert")]
    private static partial void LogNotArmed(ILogger logger, string pin);

    [LoggerMessage(Level = LogLevel.Error, Message = "Events: the press of {Pin} could not be written to the index")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception, string pin);
}

namespace Camera.Motion;

/// <summary>What one analysed frame showed, and the event that began or ended with it.</summary>
/// <param name="ChangedShare">Share of the unmasked picture that moved (changed against the background and the previous frame).</param>
/// <param name="Moving">The share reached <c>Motion:Threshold</c>.</param>
/// <param name="LightChange">The whole picture got brighter or darker (taken out, not reported as motion).</param>
/// <param name="Started">Set on the frame that started an event: its start (the first of its <c>MinFrames</c> moving frames).</param>
/// <param name="Ended">Set when an event ended (<c>QuietSeconds</c> without motion): the event.</param>
public readonly record struct MotionAnalysis(
    double ChangedShare, bool Moving, bool LightChange, DateTimeOffset? Started, MotionEvent? Ended);

/// <summary>A finished motion event: from its first moving frame to its last; the frame with the most motion.</summary>
public sealed record MotionEvent(DateTimeOffset Start, DateTimeOffset End, DateTimeOffset PeakAt, double PeakShare);

/// <summary>
/// Motion from small grayscale frames (see <see cref="ScaledGrayDecoder"/>), compared with a slowly updated background.
/// <para>
/// Light is taken out first: the frame is fitted to the background (and to the previous frame) as
/// <c>gain × reference + offset</c> by least squares, twice, the second time without the pixels the first fit left
/// out of line (the moving ones). A lamp switched on, a cloud or an auto-exposure step changes gain and offset for the
/// whole frame and so leaves nothing behind; saturated pixels stay saturated because the prediction is clamped to
/// 0–255. The background then takes the new light at once, so a light change is absorbed in one frame.
/// </para>
/// <para>
/// A pixel moves when it differs from both the background and the previous frame by more than
/// <c>Motion:PixelThreshold</c>: the background alone would keep reporting an object that stopped until the
/// background learned it, the previous frame alone reports sensor flicker. An event starts after <c>MinFrames</c>
/// consecutive moving frames and ends <c>QuietSeconds</c> after the last one. Not thread-safe: one analyser owns it.
/// </para>
/// </summary>
public sealed class MotionDetector
{
    /// <summary>How long the background takes to learn a change that stays (a parked car, a moved chair).</summary>
    private static readonly TimeSpan BackgroundTimeConstant = TimeSpan.FromSeconds(4);

    /// <summary>A global gain or offset beyond these (at mid-grey) is reported as a light change.</summary>
    private const double LightGainTolerance = 0.06;
    private const double LightOffsetTolerance = 6;

    private const double ClipLow = 4;
    private const double ClipHigh = 251;

    private readonly MotionOptions _options;
    private float[] _background = [];
    private float[] _previous = [];
    private bool[] _masked = [];
    private int _width;
    private int _height;
    private int _unmasked;
    private DateTimeOffset _lastFrameAt;

    private int _run;
    private DateTimeOffset _runStart;
    private DateTimeOffset? _eventStart;
    private DateTimeOffset _lastMotion;
    private DateTimeOffset _peakAt;
    private double _peakShare;

    public MotionDetector(MotionOptions options) => _options = options ?? throw new ArgumentNullException(nameof(options));

    /// <summary>When the event under way started, or null.</summary>
    public DateTimeOffset? EventStart => _eventStart;

    /// <summary>Analyses one frame of <paramref name="width"/> x <paramref name="height"/> gray pixels taken at <paramref name="at"/>.</summary>
    public MotionAnalysis Analyse(ReadOnlySpan<byte> gray, int width, int height, DateTimeOffset at)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(gray.Length, width * height);
        gray = gray[..(width * height)];
        if (width != _width || height != _height)
        {
            Reset(gray, width, height, at);
            return Track(0, lightChange: false, at);
        }

        var threshold = _options.PixelThreshold;
        var (gainBg, offsetBg) = Fit(_background, gray, threshold);
        var (gainPrev, offsetPrev) = Fit(_previous, gray, threshold);
        var lightChange = Math.Abs(gainPrev - 1) > LightGainTolerance
            || Math.Abs((gainPrev * 128) + offsetPrev - 128) > LightOffsetTolerance;

        // Background update: the new light at once, then a blend towards this frame, slower where something moves.
        var dt = Math.Clamp((at - _lastFrameAt).TotalSeconds, 0, 10);
        var rate = (float)Math.Min(1, dt / BackgroundTimeConstant.TotalSeconds);
        var movingRate = rate / 8;
        var moving = 0;
        var background = _background;
        var previous = _previous;
        var masked = _masked;
        float gb = (float)gainBg, ob = (float)offsetBg, gp = (float)gainPrev, op = (float)offsetPrev;
        for (var i = 0; i < gray.Length; i++)
        {
            float value = gray[i];
            var expected = Math.Clamp((gb * background[i]) + ob, 0f, 255f);
            var pixelMoves = false;
            if (!masked[i] && Math.Abs(value - expected) > threshold)
            {
                var fromPrevious = Math.Clamp((gp * previous[i]) + op, 0f, 255f);
                pixelMoves = Math.Abs(value - fromPrevious) > threshold;
            }

            if (pixelMoves)
            {
                moving++;
            }

            background[i] = expected + ((value - expected) * (pixelMoves ? movingRate : rate));
        }

        for (var i = 0; i < gray.Length; i++)
        {
            previous[i] = gray[i];
        }
        _lastFrameAt = at;
        var share = _unmasked == 0 ? 0 : moving / (double)_unmasked;
        if (lightChange)
        {
            // The light stepped (a lamp, the camera's exposure): what still differs is where the fit cannot follow
            // (pixels that clipped, blocks across an edge). The new light becomes the background; nothing is reported.
            for (var i = 0; i < gray.Length; i++)
            {
                background[i] = gray[i];
            }

            return Track(0, lightChange: true, at, share);
        }

        return Track(share, lightChange: false, at);
    }

    /// <summary>Ends an event under way now (the analyser stops): its end is its last moving frame.</summary>
    public MotionEvent? Flush()
    {
        if (_eventStart is not { } start)
        {
            return null;
        }

        _eventStart = null;
        _run = 0;
        return new MotionEvent(start, _lastMotion, _peakAt, _peakShare);
    }

    private MotionAnalysis Track(double share, bool lightChange, DateTimeOffset at, double? absorbedShare = null)
    {
        var isMoving = share >= _options.Threshold;
        DateTimeOffset? started = null;
        MotionEvent? ended = null;
        if (isMoving)
        {
            if (_run++ == 0)
            {
                _runStart = at;
            }

            _lastMotion = at;
            if (_eventStart is null && _run >= _options.MinFrames)
            {
                _eventStart = started = _runStart;
                _peakShare = 0;
            }

            if (_eventStart is not null && share > _peakShare)
            {
                _peakShare = share;
                _peakAt = at;
            }
        }
        else
        {
            _run = 0;
            if (_eventStart is not null && (at - _lastMotion).TotalSeconds >= _options.QuietSeconds)
            {
                ended = Flush();
            }
        }

        return new MotionAnalysis(absorbedShare ?? share, isMoving, lightChange, started, ended);
    }

    private void Reset(ReadOnlySpan<byte> gray, int width, int height, DateTimeOffset at)
    {
        _width = width;
        _height = height;
        _background = new float[gray.Length];
        _previous = new float[gray.Length];
        for (var i = 0; i < gray.Length; i++)
        {
            _background[i] = _previous[i] = gray[i];
        }

        _masked = new bool[gray.Length];
        foreach (var mask in _options.Masks)
        {
            var x0 = (int)Math.Floor(mask.Left / 100 * width);
            var y0 = (int)Math.Floor(mask.Top / 100 * height);
            var x1 = Math.Min(width, (int)Math.Ceiling((mask.Left + mask.Width) / 100 * width));
            var y1 = Math.Min(height, (int)Math.Ceiling((mask.Top + mask.Height) / 100 * height));
            for (var y = y0; y < y1; y++)
            {
                _masked.AsSpan((y * width) + x0, Math.Max(0, x1 - x0)).Fill(true);
            }
        }

        _unmasked = _masked.Count(m => !m);
        _lastFrameAt = at;
    }

    /// <summary>
    /// Least-squares <c>frame ≈ gain × reference + offset</c> over the unmasked pixels; fitted again without the pixels
    /// more than <paramref name="threshold"/> out of line, so a moving object does not bend the light estimate.
    /// </summary>
    private (double Gain, double Offset) Fit(float[] reference, ReadOnlySpan<byte> frame, int threshold)
    {
        var (gain, offset) = FitPass(reference, frame, 1, 0, double.PositiveInfinity);
        return FitPass(reference, frame, gain, offset, threshold);
    }

    private (double Gain, double Offset) FitPass(float[] reference, ReadOnlySpan<byte> frame, double gain, double offset, double limit)
    {
        double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
        var masked = _masked;
        for (var i = 0; i < frame.Length; i++)
        {
            if (masked[i])
            {
                continue;
            }

            double x = reference[i];
            double y = frame[i];

            // Clipped pixels (blown highlights, crushed shadows) do not follow the light: leave them out of the fit.
            if (x is <= ClipLow or >= ClipHigh || y is <= ClipLow or >= ClipHigh || Math.Abs(y - ((gain * x) + offset)) > limit)
            {
                continue;
            }

            n++;
            sx += x;
            sy += y;
            sxx += x * x;
            sxy += x * y;
        }

        if (n < 16)
        {
            return (gain, offset);
        }

        var variance = (n * sxx) - (sx * sx);
        if (variance < n * n * 4)
        {
            // A nearly flat reference (a dark night, a white wall) says nothing about gain: offset only.
            return (1, (sy - sx) / n);
        }

        var fittedGain = Math.Clamp(((n * sxy) - (sx * sy)) / variance, 0.2, 5);
        return (fittedGain, (sy - (fittedGain * sx)) / n);
    }
}

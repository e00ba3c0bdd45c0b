namespace Appliance.Doctor;

/// <summary>
/// One line of <c>Appliance doctor</c>. Features add their own with
/// <c>builder.Services.AddSingleton&lt;IDoctorCheck, X&gt;()</c> in their AddX (e.g. V4L2 devices and formats).
/// A check never throws for a problem it can describe: it returns <see cref="DoctorResult.Fail"/> with a hint.
/// </summary>
public interface IDoctorCheck
{
    /// <summary>What is checked, e.g. "libturbojpeg".</summary>
    string Title { get; }

    Task<DoctorResult> RunAsync(CancellationToken cancellationToken);
}

public enum DoctorOutcome
{
    Pass,
    Warn,
    Fail,
    Skip,
}

/// <summary>The outcome of a check: what was found, and for problems what to do about it.</summary>
public sealed record DoctorResult(DoctorOutcome Outcome, string Detail, string? Hint = null)
{
    public static DoctorResult Pass(string detail) => new(DoctorOutcome.Pass, detail);

    public static DoctorResult Warn(string detail, string? hint = null) => new(DoctorOutcome.Warn, detail, hint);

    public static DoctorResult Fail(string detail, string? hint = null) => new(DoctorOutcome.Fail, detail, hint);

    public static DoctorResult Skip(string detail) => new(DoctorOutcome.Skip, detail);
}

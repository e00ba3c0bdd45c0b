namespace Appliance.Doctor;

/// <summary>Registers the doctor's built-in checks; the doctor passes this to <see cref="Program.BuildApp"/>.</summary>
public static class DoctorExtensions
{
    public static WebApplicationBuilder AddDoctorChecks(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        foreach (var factory in Factories)
        {
            builder.Services.AddSingleton(sp => factory(sp.GetRequiredService<IConfiguration>()));
        }

        return builder;
    }

    /// <summary>The built-in checks over raw settings (used as they are when the configuration is invalid).</summary>
    public static IEnumerable<IDoctorCheck> BuiltInChecks(IConfiguration configuration) => Factories.Select(f => f(configuration));

    private static readonly Func<IConfiguration, IDoctorCheck>[] Factories =
    [
        c => new SettingsSourcesCheck(c),
        c => new PasswordCheck(c),
        _ => new TurboJpegCheck(),
        c => new RpicamCheck(c),
        c => new Hardware.CamerasDoctorCheck(c),
        _ => new GpioChipCheck("/dev"),
        c => new StateDirectoryCheck(c),
        _ => new ClockCheck(),
        _ => new SecretsFileCheck(ApplianceConfiguration.SettingsFiles()[^1]),
        c => new WeComCredentialsCheck(c),
        c => new RelayReachableCheck(c),
        c => new PublicOriginCheck(c),
    ];
}

namespace Appliance.Hosting;

/// <summary>
/// Where settings come from, lowest priority first: the defaults embedded in the binary, appsettings.json beside it,
/// /etc/appliance/appliance.json, /etc/appliance/secrets.json (0640 root:appliance, for passwords and keys), what the
/// browser set (<see cref="BrowserSettings"/>, in the state directory), environment variables (Camera__Source=file)
/// and the command line (--Camera:Source=file).
/// </summary>
public static class ApplianceConfiguration
{
    /// <summary>Overrides /etc/appliance (tests, or a hobbyist who keeps settings elsewhere).</summary>
    public const string ConfigDirectoryVariable = "APPLIANCE_CONFIG_DIR";

    private const string ErrorsKey = "Appliance.ConfigurationErrors";
    private const string InspectionOnlyKey = "Appliance.InspectionOnly";

    /// <summary>
    /// Marks a build that is only inspected (the doctor), never run: features check their devices but must not take
    /// them, because the running service holds them.
    /// </summary>
    public static void MarkInspectionOnly(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ((IHostApplicationBuilder)builder).Properties[InspectionOnlyKey] = true;
    }

    public static bool IsInspectionOnly(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return ((IHostApplicationBuilder)builder).Properties.ContainsKey(InspectionOnlyKey);
    }

    public static string ConfigDirectory =>
        Environment.GetEnvironmentVariable(ConfigDirectoryVariable) is { Length: > 0 } dir ? dir : "/etc/appliance";

    public static WebApplicationBuilder CreateBuilder(string[] args)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
        });
        try
        {
            AddSources(builder.Configuration, args);
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or IOException or UnauthorizedAccessException)
        {
            // A settings file that is not valid JSON, or cannot be read: say which, with the parser's reason.
            var reason = ex.InnerException is { } inner ? $"{ex.Message} {inner.Message}" : ex.Message;
            throw new ConfigurationException(Describe([reason]), ex);
        }

        return builder;
    }

    /// <summary>Replaces the default sources with the appliance's; also used by the doctor.</summary>
    public static void AddSources(IConfigurationBuilder configuration, string[] args)
    {
        configuration.Sources.Clear();
        using (var defaults = typeof(ApplianceConfiguration).Assembly.GetManifestResourceStream("appsettings.json"))
        {
            if (defaults is not null)
            {
                // The stream is read when the source is built; copy it so it outlives this method.
                var copy = new MemoryStream();
                defaults.CopyTo(copy);
                copy.Position = 0;
                configuration.AddJsonStream(copy);
            }
        }

        configuration.AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true, reloadOnChange: false);
        foreach (var file in SettingsFiles())
        {
            if (SettingsFile.UnreadableReason(file, "root:appliance, 640 and 750") is { } unreadable)
            {
                throw new UnauthorizedAccessException(unreadable); // named by CreateBuilder, like broken JSON
            }

            configuration.AddJsonFile(file, optional: true, reloadOnChange: false);
        }

        AddBrowserSettings(configuration, args);
        configuration.AddEnvironmentVariables("ASPNETCORE_");
        configuration.AddEnvironmentVariables();
        configuration.AddCommandLine(args);
    }

    /// <summary>
    /// The browser's layer. Its place is the state directory, which the layers above it (State:Directory, often on
    /// the command line) name: they are read once more, without this file, to find it.
    /// </summary>
    private static void AddBrowserSettings(IConfigurationBuilder configuration, string[] args)
    {
        var locate = new ConfigurationBuilder();
        // Not the embedded defaults: their stream can be read once only (and they name no state directory).
        foreach (var source in configuration.Sources.Where(s => s is not StreamConfigurationSource))
        {
            locate.Add(source);
        }

        locate.AddEnvironmentVariables();
        locate.AddCommandLine(args);
        var file = BrowserSettings.PathIn(StateDirectory.Resolve(locate.Build()));
        if (SettingsFile.UnreadableReason(file, "the service user's, 600") is { } unreadable)
        {
            throw new UnauthorizedAccessException(unreadable);
        }

        configuration.AddJsonFile(file, optional: true, reloadOnChange: false);
    }

    /// <summary>The settings files in /etc (or <see cref="ConfigDirectoryVariable"/>), in load order.</summary>
    public static IReadOnlyList<string> SettingsFiles() =>
        [Path.Combine(ConfigDirectory, "appliance.json"), Path.Combine(ConfigDirectory, "secrets.json")];

    /// <summary>
    /// Binds a section to a new <typeparamref name="T"/>, validates it, registers it as a singleton and records
    /// every problem (named by key) for <see cref="ThrowIfConfigurationInvalid"/>.
    /// </summary>
    /// <remarks>
    /// <paramref name="bind"/> is <c>(section, options) =&gt; section.Bind(options)</c> written at the call site, where the
    /// configuration-binding source generator sees the concrete type (no reflection, trim-safe).
    /// </remarks>
    public static T BindOptions<T>(
        this WebApplicationBuilder builder, string section, Action<IConfigurationSection, T> bind, Func<T, IEnumerable<string>>? validate = null)
        where T : class, new()
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new T();
        try
        {
            ArgumentNullException.ThrowIfNull(bind);
            bind(builder.Configuration.GetSection(section), options);
            if (validate is not null)
            {
                Errors(builder).AddRange(validate(options));
            }
        }
        catch (InvalidOperationException ex)
        {
            // The binder's message names the key: "Failed to convert configuration value at 'Camera:Fps' …".
            Errors(builder).Add(ex.Message);
        }

        builder.Services.AddSingleton(options);
        return options;
    }

    /// <summary>Records a problem found outside <see cref="BindOptions{T}"/>.</summary>
    public static void AddConfigurationError(this WebApplicationBuilder builder, string error)
    {
        ArgumentNullException.ThrowIfNull(builder);
        Errors(builder).Add(error);
    }

    public static void ThrowIfConfigurationInvalid(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var errors = Errors(builder);
        if (errors.Count > 0)
        {
            throw new ConfigurationException(Describe(errors));
        }
    }

    public static string Describe(IEnumerable<string> errors) =>
        "The appliance cannot start:\n" + string.Concat(errors.Select(e => $"  - {e}\n")) +
        $"Settings come from {string.Join(", ", SettingsFiles())}, environment variables (Camera__Fps=15) and the command line (--Camera:Fps=15).";

    private static List<string> Errors(WebApplicationBuilder builder)
    {
        var properties = ((IHostApplicationBuilder)builder).Properties;
        if (!properties.TryGetValue(ErrorsKey, out var value))
        {
            value = new List<string>();
            properties[ErrorsKey] = value;
        }

        return (List<string>)value;
    }
}

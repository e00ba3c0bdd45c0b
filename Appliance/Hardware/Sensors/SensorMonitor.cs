using System.Device.I2c;
using System.Text.Json.Nodes;
using Appliance.Hardware.I2c;
using Appliance.Status;

namespace Appliance.Hardware.Sensors;

/// <summary>
/// Reads every configured sensor on one dedicated thread (the bindings block), each at its own interval, and keeps the
/// latest readings for <see cref="ISensorReadings"/> and /api/status ("sensors"). A missing or wrong chip is reported
/// as the sensor's problem and retried at its interval; it never stops the appliance.
/// </summary>
internal sealed partial class SensorMonitor : IHostedService, ISensorReadings, IStatusContributor, IDisposable
{
    private readonly List<Sensor> _sensors;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Func<I2cConnectionSettings, I2cDevice> _openI2c;
    private readonly CancellationTokenSource _stop = new();
    private Thread? _thread;
    private int _disposed;

    public SensorMonitor(SensorsOptions options, TimeProvider time, ILogger<SensorMonitor> logger)
        : this(options, time, logger, SmBusI2cDevice.CreateForAdapter)
    {
    }

    internal SensorMonitor(SensorsOptions options, TimeProvider time, ILogger logger, Func<I2cConnectionSettings, I2cDevice> openI2c)
    {
        _time = time;
        _logger = logger;
        _openI2c = openI2c;
        _sensors = [.. options.Active.Select(s => new Sensor(s.Name, s.Options))];
    }

    public event EventHandler<SensorReading>? Changed;

    public IReadOnlyList<SensorReading> Current => [.. _sensors.Select(s => s.Reading)];

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (_sensors.Count > 0)
        {
            _thread = new Thread(Run) { IsBackground = true, Name = "sensors" };
            _thread.Start();
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _disposed) == 0)
        {
            _stop.Cancel();
        }

        _thread?.Join(TimeSpan.FromSeconds(5));
        return Task.CompletedTask;
    }

    public void Contribute(JsonObject status)
    {
        if (_sensors.Count == 0)
        {
            return;
        }

        var sensors = new JsonArray();
        foreach (var reading in Current)
        {
            var values = new JsonArray();
            foreach (var value in reading.Values)
            {
                values.Add((JsonNode)new JsonObject { ["quantity"] = value.Quantity, ["value"] = value.Value, ["unit"] = value.Unit });
            }

            sensors.Add((JsonNode)new JsonObject
            {
                ["name"] = reading.Name,
                ["type"] = reading.Type,
                ["source"] = reading.Source,
                ["readAt"] = reading.At?.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
                ["values"] = values,
                ["problem"] = reading.Problem,
            });
        }

        status["sensors"] = sensors;
    }

    /// <summary>Reads every sensor that is due once; the thread's loop, and tests with a fake clock.</summary>
    internal TimeSpan ReadDue()
    {
        var now = _time.GetUtcNow();
        var next = TimeSpan.FromHours(1);
        foreach (var sensor in _sensors)
        {
            if (sensor.Due <= now)
            {
                ReadOne(sensor);
                sensor.Due = now + TimeSpan.FromSeconds(sensor.Options.IntervalSeconds);
            }

            next = TimeSpan.FromTicks(Math.Min(next.Ticks, Math.Max(0, (sensor.Due - now).Ticks)));
        }

        return next;
    }

    private void ReadOne(Sensor sensor)
    {
        var previous = sensor.Reading;
        try
        {
            sensor.Device ??= SensorDevice.Open(sensor.Options, _openI2c);
            var values = sensor.Device.Read();
            sensor.Reading = previous with { Source = sensor.Device.Source, At = _time.GetUtcNow(), Values = values, Problem = null };
            if (previous.Problem is not null)
            {
                LogRecovered(_logger, sensor.Name);
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or UnauthorizedAccessException or ArgumentException)
        {
            // Whatever the binding or the bus throws for a missing, wrong or failing chip: reported, retried.
            if (previous.Problem != ex.Message)
            {
                LogProblem(_logger, sensor.Name, ex.Message);
            }

            sensor.Reading = previous with { Problem = ex.Message };
            sensor.Device?.Dispose();
            sensor.Device = null;
        }

        Changed?.Invoke(this, sensor.Reading);
    }

    private void Run()
    {
        while (!_stop.IsCancellationRequested)
        {
            var wait = ReadDue();
            try
            {
                Task.Delay(wait, _time, _stop.Token).Wait(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        foreach (var sensor in _sensors)
        {
            sensor.Device?.Dispose();
            sensor.Device = null;
        }
    }

    public void Dispose()
    {
        // Registered as hosted service, readings and status contributor: the container may dispose it more than once.
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _stop.Cancel();
            _stop.Dispose();
        }
    }

    private sealed class Sensor(string name, SensorOptions options)
    {
        public string Name => name;

        public SensorOptions Options => options;

        public SensorDevice? Device { get; set; }

        public DateTimeOffset Due { get; set; } = DateTimeOffset.MinValue;

        public volatile SensorReading ReadingField = new(name, options.Type!, options.Type == "Ds18b20"
            ? $"w1_bus_master{options.Bus}/{options.Device ?? "first DS18B20"}"
            : $"/dev/i2c-{options.Bus} 0x{options.EffectiveAddress:X2}", null, [], null);

        public SensorReading Reading
        {
            get => ReadingField;
            set => ReadingField = value;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sensor {Name}: {Problem}; the appliance carries on without it and retries")]
    private static partial void LogProblem(ILogger logger, string name, string problem);

    [LoggerMessage(Level = LogLevel.Information, Message = "Sensor {Name}: reading again")]
    private static partial void LogRecovered(ILogger logger, string name);
}

using System.Text.Json.Nodes;
using Appliance.Status;

namespace Appliance.Hardware.Sensors;

/// <summary>
/// Reads the BME280 every <see cref="Bme280Options.IntervalSeconds"/> on a dedicated thread and contributes
/// "environment" to /api/status. A missing or wrong chip is reported there and retried; it never stops the appliance.
/// </summary>
internal sealed partial class Bme280Monitor(Bme280Options options, TimeProvider time, ILogger<Bme280Monitor> logger)
    : IHostedService, IStatusContributor, IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private Thread? _thread;
    private int _disposed;
    private volatile Reading? _reading;
    private volatile string? _problem;

    private sealed record Reading(double TemperatureC, double HumidityPercent, double PressureHpa, DateTimeOffset At);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Enabled)
        {
            _thread = new Thread(Run) { IsBackground = true, Name = "bme280" };
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

        _thread?.Join(TimeSpan.FromSeconds(2));
        return Task.CompletedTask;
    }

    public void Contribute(JsonObject status)
    {
        if (!options.Enabled)
        {
            return;
        }

        var reading = _reading;
        status["environment"] = new JsonObject
        {
            ["sensor"] = $"BME280 /dev/i2c-{options.Bus} 0x{options.Address:X2}",
            ["temperatureC"] = reading is null ? null : Math.Round(reading.TemperatureC, 2),
            ["humidityPercent"] = reading is null ? null : Math.Round(reading.HumidityPercent, 1),
            ["pressureHpa"] = reading is null ? null : Math.Round(reading.PressureHpa, 2),
            ["readAt"] = reading?.At.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            ["problem"] = _problem,
        };
    }

    private void Run()
    {
        Bme280Device? device = null;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                device ??= Bme280Device.Open(options.Bus, options.Address);
                var (t, h, p) = device.Read();
                _reading = new Reading(t, h, p, time.GetUtcNow());
                if (_problem is not null)
                {
                    LogRecovered(logger);
                }

                _problem = null;
            }
            catch (IOException ex)
            {
                if (_problem != ex.Message)
                {
                    LogProblem(logger, ex.Message);
                }

                _problem = ex.Message;
                device?.Dispose();
                device = null;
            }

            try
            {
                Task.Delay(TimeSpan.FromSeconds(options.IntervalSeconds), time, _stop.Token).Wait(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        device?.Dispose();
    }

    public void Dispose()
    {
        // Registered as hosted service and status contributor too: the container may dispose it more than once.
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _stop.Cancel();
            _stop.Dispose();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "BME280: {Problem}; the appliance carries on without it and retries")]
    private static partial void LogProblem(ILogger logger, string problem);

    [LoggerMessage(Level = LogLevel.Information, Message = "BME280: reading again")]
    private static partial void LogRecovered(ILogger logger);
}

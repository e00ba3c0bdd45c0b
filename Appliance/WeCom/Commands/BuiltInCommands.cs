using System.Globalization;
using System.Text;
using Appliance.Auth;
using Appliance.Capture;
using Appliance.Status;
using Appliance.WeCom.Api;

namespace Appliance.WeCom.Commands;

/// <summary>拍照 / photo / snap: a fresh snapshot, uploaded and answered as an image.</summary>
internal sealed class PhotoCommand(SnapshotService snapshots, WeComApiClient api) : IWeComCommand
{
    public IReadOnlyList<string> Names { get; } = ["拍照", "photo", "snap"];

    public string Help => "拍照 / photo — 一张现场照片 a fresh photo";

    public WeComCommandAccess Access => WeComCommandAccess.Family;

    public bool OnTimeline => true;

    public async Task<WeComMessage?> ExecuteAsync(WeComCommandContext context, CancellationToken cancellationToken)
    {
        var frame = await snapshots.GetFreshAsync(cancellationToken);
        if (frame is null)
        {
            return new TextMessage("摄像头暂时没有画面。The camera has no picture right now.");
        }

        try
        {
            var stamp = frame.CapturedAt.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
            var upload = await api.UploadMediaAsync(MediaType.Image, $"snapshot-{stamp}.jpg", "image/jpeg", frame.Jpeg, cancellationToken);
            return upload.IsSuccess
                ? new ImageMessage(upload.Value!.MediaId)
                : new TextMessage($"照片上传失败 The photo could not be uploaded: {upload.Error}");
        }
        finally
        {
            frame.Release();
        }
    }
}

/// <summary>直播 / live: a textcard with a signed link to the stream page.</summary>
internal sealed class LiveCommand(LinkSigner links, WeComOptions options, TimeProvider time, IEnumerable<IPublicBaseUrl> publicUrls) : IWeComCommand
{
    public IReadOnlyList<string> Names { get; } = ["直播", "live"];

    public string Help => $"直播 / live — 直播链接 a live link (valid {options.LinkLifetime.TotalMinutes:0} min)";

    public WeComCommandAccess Access => WeComCommandAccess.Family;

    public bool OnTimeline => true;

    public Task<WeComMessage?> ExecuteAsync(WeComCommandContext context, CancellationToken cancellationToken)
    {
        var baseUrl = options.PublicBaseUrl.Length > 0
            ? options.PublicBaseUrl
            : publicUrls.Select(p => p.PublicBaseUrl).FirstOrDefault(u => !string.IsNullOrEmpty(u));
        if (string.IsNullOrEmpty(baseUrl))
        {
            return Task.FromResult<WeComMessage?>(new TextMessage(
                "还没有公网地址。No public address is configured: set WeCom:PublicBaseUrl or configure the relay."));
        }

        var link = baseUrl.TrimEnd('/') + links.Sign("/", options.LinkLifetime);
        var until = time.GetLocalNow().Add(options.LinkLifetime).ToString("HH:mm", CultureInfo.InvariantCulture);
        return Task.FromResult<WeComMessage?>(new TextCardMessage(
            "直播 Live",
            $"<div class=\"gray\">有效至 valid until {until}</div><div class=\"normal\">点击观看 Tap to watch the live picture.</div>",
            link,
            "观看 Watch"));
    }
}

internal enum OutputAction
{
    On,
    Off,
    Pulse,
}

/// <summary>开 / on, 关 / off, 脉冲 / pulse NAME: switch an output (admins only).</summary>
internal sealed class OutputCommand(IOutputSwitch outputs, OutputAction mode) : IWeComCommand
{
    public IReadOnlyList<string> Names { get; } = mode switch
    {
        OutputAction.On => ["开", "on"],
        OutputAction.Off => ["关", "off"],
        _ => ["脉冲", "pulse"],
    };

    public string Help => mode switch
    {
        OutputAction.On => $"开 / on NAME — 打开 switch on ({(outputs.Names.Count > 0 ? string.Join(", ", outputs.Names.Select(outputs.Label)) : "no outputs configured")})",
        OutputAction.Off => "关 / off NAME — 关闭 switch off",
        _ => "脉冲 / pulse NAME — 点动 on, then off after the output's pulse length",
    };

    /// <summary>The answer while there is nothing to switch (no hardware feature, or no output pins).</summary>
    internal const string NoOutputsAnswer =
        "没有配置输出 No outputs are configured: add one under Gpio:Pins with \"Mode\": \"Output\" (see docs/hardware.md).";

    public WeComCommandAccess Access => WeComCommandAccess.Admin;

    /// <summary>"开灯" when an output is called 灯 (Gpio:Pins:NAME:Aliases); "开心" or "关于…" are words, not commands.</summary>
    public bool AcceptsUnspaced(string arguments) => outputs.Find(arguments) is not null;

    public async Task<WeComMessage?> ExecuteAsync(WeComCommandContext context, CancellationToken cancellationToken)
    {
        if (outputs.Names.Count == 0)
        {
            return new TextMessage(NoOutputsAnswer);
        }

        var name = context.Arguments.Trim();
        var match = outputs.Find(name);
        if (match is null)
        {
            return new TextMessage($"请指定输出 Name an output: {string.Join(", ", outputs.Names.Select(outputs.Label))} (e.g. \"{Names[1]} {(outputs.Names.Count > 0 ? outputs.Names[0] : "light")}\")");
        }

        var who = $"wecom:{context.User}";
        var pulse = TimeSpan.Zero;
        switch (mode)
        {
            case OutputAction.On:
                await outputs.SetAsync(match, true, who, cancellationToken);
                break;
            case OutputAction.Off:
                await outputs.SetAsync(match, false, who, cancellationToken);
                break;
            default:
                pulse = await outputs.PulseAsync(match, who, cancellationToken);
                break;
        }

        var simulated = outputs.IsSimulated ? " (simulated)" : "";
        return new TextMessage(mode switch
        {
            OutputAction.On => $"{match} 已打开 is on{simulated}",
            OutputAction.Off => $"{match} 已关闭 is off{simulated}",
            _ => $"{match} 已点动 pulsed for {pulse.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s{simulated}",
        });
    }
}

/// <summary>状态 / status: uptime, camera, fps, viewers, sensors' readings and tunnel when those features exist.</summary>
internal sealed class StatusCommand(StatusReport report) : IWeComCommand
{
    public IReadOnlyList<string> Names { get; } = ["状态", "status"];

    public string Help => "状态 / status — 运行状态 uptime, camera, viewers";

    public WeComCommandAccess Access => WeComCommandAccess.Family;

    public Task<WeComMessage?> ExecuteAsync(WeComCommandContext context, CancellationToken cancellationToken)
    {
        var status = report.Build(includeViewerAddresses: false); // counts only
        var uptime = report.Uptime;
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"运行 Uptime: {(int)uptime.TotalDays}d {uptime.Hours}h {uptime.Minutes}m\n");
        text.Append(CultureInfo.InvariantCulture, $"摄像头 Camera: {status["source"]?.ToString() ?? "none"} ({status["state"]}), {status["resolution"]?.ToString() ?? "-"}, {status["deliveredFps"]} fps\n");
        text.Append(CultureInfo.InvariantCulture, $"观看 Viewers: {status["viewers"]}");
        if (status["viewersThroughRelay"]?.GetValue<int>() is > 0 and var throughRelay)
        {
            text.Append(CultureInfo.InvariantCulture, $" ({throughRelay} 经中继 through the relay)");
        }

        foreach (var sensor in status["sensors"]?.AsArray() ?? [])
        {
            // e.g. "传感器 Sensor living-room: 25.08 °C, 45.1 %RH, 1006.53 hPa", or its problem while it has none.
            var values = string.Join(", ", sensor!["values"]!.AsArray().Select(v => $"{v!["value"]} {v["unit"]}"));
            var sensorProblem = sensor["problem"]?.ToString();
            text.Append(CultureInfo.InvariantCulture, $"\n传感器 Sensor {sensor["name"]}: {(values.Length > 0 ? values : "-")}{(sensorProblem is null ? "" : $" ({sensorProblem})")}");
        }

        if (status["tunnel"] is { } tunnel && tunnel["state"]?.ToString() != "disabled")
        {
            text.Append(CultureInfo.InvariantCulture, $"\n隧道 Tunnel: {tunnel["state"]?.ToString() ?? tunnel.ToJsonString()}");
        }

        if (status["armed"] is { } armed)
        {
            // Events:Armed / 布防 / 撤防, and whether the armed hours hold now.
            var hours = armed["hours"]?.ToString();
            var on = armed["armed"]?.GetValue<bool>() == true;
            text.Append(CultureInfo.InvariantCulture, $"\n布防 Armed: {(on ? "是 yes" : "否 no")}{(hours is null ? "" : $" ({hours}, {(armed["activeNow"]?.GetValue<bool>() == true ? "active now" : "not now")})")}");
        }

        if (status["problem"]?.ToString() is { Length: > 0 } problem)
        {
            text.Append(CultureInfo.InvariantCulture, $"\n问题 Problem: {problem}");
        }

        return Task.FromResult<WeComMessage?>(new TextMessage(text.ToString()));
    }
}

/// <summary>帮助 / help: the commands this user may use.</summary>
internal sealed class HelpCommand(IServiceProvider services) : IWeComCommand
{
    public IReadOnlyList<string> Names { get; } = ["帮助", "help", "?", "？"];

    public string Help => "帮助 / help — 命令列表 this list";

    public WeComCommandAccess Access => WeComCommandAccess.Family;

    public Task<WeComMessage?> ExecuteAsync(WeComCommandContext context, CancellationToken cancellationToken) =>
        Task.FromResult<WeComMessage?>(new TextMessage(services.GetRequiredService<WeComCommandRegistry>().HelpText(context.IsAdmin)));
}

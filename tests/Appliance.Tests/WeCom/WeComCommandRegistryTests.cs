using Appliance.Tests.Infrastructure;
using Appliance.WeCom.Commands;

namespace Appliance.Tests.WeCom;

/// <summary>
/// How typed text finds a command, on the real registry of an appliance with two GPIO outputs: porch (also called 灯
/// and 门灯, Gpio:Pins:porch:Aliases) and hall.
/// </summary>
public sealed class WeComCommandRegistryTests
{
    public static TheoryData<string, string?, string> Texts => new()
    {
        // What phone keyboards send: case, full-width letters and digits, trailing punctuation, other spaces.
        { "photo", "photo", "" },
        { "Photo", "photo", "" },
        { "ＰＨＯＴＯ", "photo", "" },
        { "photo!", "photo", "" },
        { "拍照。", "photo", "" },
        { "拍照！", "photo", "" },
        { "?", "help", "" },
        { "？", "help", "" },
        { "on\u00A0porch", "on", "porch" },
        { "on\u3000porch", "on", "porch" },
        { "开 ＰＯＲＣＨ", "on", "PORCH" },
        { "录像１０", "video", "10" },
        { "录像 10 秒", "video", "10 秒" },

        // Chinese without a space: a command when the rest is meant for it, an ordinary word otherwise.
        { "开灯", "on", "灯" },
        { "关灯。", "off", "灯" },
        { "开门灯", "on", "门灯" },
        { "开porch", "on", "porch" },
        { "开HALL", "on", "HALL" },
        { "开心", null, "" },
        { "关于这个摄像头", null, "" },
        { "开门吧", null, "" },
        { "hello", null, "" },
        { "!!!", null, "" },
    };

    [Theory]
    [MemberData(nameof(Texts))]
    public async Task Resolve_TypedText_TheCommandMeantOrNone(string text, string? command, string arguments)
    {
        await using var server = await ApplianceServer.StartAsync(
            WeComCallbackClient.Settings(null, "--Gpio:Pins:porch:Line=6", "--Gpio:Pins:porch:Aliases:0=灯", "--Gpio:Pins:porch:Aliases:1=门灯", "--Gpio:Pins:hall:Line=7"));
        var registry = server.GetRequiredService<WeComCommandRegistry>();

        var resolved = registry.Resolve(text);

        if (command is null)
        {
            Assert.Null(resolved);
            return;
        }

        Assert.NotNull(resolved);
        Assert.Contains(command, resolved.Value.Command.Names);
        Assert.Equal(arguments, resolved.Value.Arguments);
    }
}

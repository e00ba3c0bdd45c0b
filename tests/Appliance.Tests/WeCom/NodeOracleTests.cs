using System.Diagnostics;
using System.Text.Json;
using Appliance.Tests.Infrastructure;

namespace Appliance.Tests.WeCom;

/// <summary>The official @wecom/crypto package (tests/node, installed by tests/setup.sh) as an independent oracle.</summary>
public sealed class NodeOracleTests
{
    private static string OracleDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "node");
            if (File.Exists(Path.Combine(candidate, "wecom-oracle.mjs")))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException("tests/node/wecom-oracle.mjs not found above " + AppContext.BaseDirectory);
    }

    [Fact]
    public async Task NodeOfficialCrypto_EncryptsAndSignsHelp_DecryptsVerifiedPassiveReply()
    {
        var dir = OracleDirectory();
        Assert.True(Directory.Exists(Path.Combine(dir, "node_modules", "@wecom", "crypto")), "run tests/setup.sh (npm install in tests/node) first");
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(null));

        var start = new ProcessStartInfo("node") { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])["wecom-oracle.mjs", "post", server.BaseAddress.ToString().TrimEnd('/'), WeComCallbackClient.Token, WeComCallbackClient.AesKey, FakeWeComServer.CorpId, "alice", "帮助"])
        {
            start.ArgumentList.Add(arg);
        }

        using var node = Process.Start(start)!;
        var output = node.StandardOutput.ReadToEndAsync();
        var errors = node.StandardError.ReadToEndAsync();
        await node.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(node.ExitCode == 0, await errors);

        var result = JsonDocument.Parse(await output).RootElement;
        Assert.Equal(200, result.GetProperty("status").GetInt32());
        Assert.True(result.GetProperty("signatureValid").GetBoolean());
        Assert.Equal(FakeWeComServer.CorpId, result.GetProperty("receiveId").GetString());
        Assert.Equal("alice", result.GetProperty("toUser").GetString());
        Assert.Equal("text", result.GetProperty("msgType").GetString());
        Assert.Contains("拍照 / photo", result.GetProperty("content").GetString(), StringComparison.Ordinal);
    }
}

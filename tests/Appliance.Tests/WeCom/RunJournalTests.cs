using Appliance.Hosting;
using Appliance.Tests.Infrastructure;
using Appliance.WeCom;
using Appliance.WeCom.Api;
using Appliance.WeCom.Callback;
using Appliance.WeCom.Commands;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Appliance.Tests.WeCom;

/// <summary>
/// The run-once rule across a restart: what an earlier process started is kept on disk, so a WeCom retry or a relay
/// replay arriving after the restart is answered, not run again.
/// </summary>
public sealed class RunJournalTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("run-journal-").FullName;

    private string JournalFile => Path.Combine(_directory, RunJournal.FileName);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private RunJournal Open(TimeProvider clock) => new(new StateDirectory(_directory), clock, NullLogger<RunJournal>.Instance);

    [Fact]
    public void Journal_ReopenedAfterRestart_KnowsWhatStartedUntilItExpires()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
        var started = clock.GetUtcNow();
        using (var journal = Open(clock))
        {
            journal.Record("m:1", started + TimeSpan.FromMinutes(30));
            Assert.Null(journal.StartedBeforeRestart("m:1")); // this process's own runs are the dispatcher's to remember
        }

        clock.Advance(TimeSpan.FromMinutes(29));
        using (var journal = Open(clock))
        {
            Assert.Equal(started, journal.StartedBeforeRestart("m:1"));
            Assert.Null(journal.StartedBeforeRestart("m:2"));
        }

        clock.Advance(TimeSpan.FromMinutes(2));
        using (var journal = Open(clock))
        {
            Assert.Null(journal.StartedBeforeRestart("m:1"));
        }

        Assert.Empty(File.ReadAllLines(JournalFile)); // the expired line was dropped when the file was read
    }

    [Fact]
    public void Journal_FileHoldsNoMemberNamesOrEventKeys()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
        using (var journal = Open(clock))
        {
            journal.Record("e:alice|1800000000|click|open door", clock.GetUtcNow() + TimeSpan.FromMinutes(30));
        }

        var text = File.ReadAllText(JournalFile);
        Assert.DoesNotContain("alice", text, StringComparison.Ordinal);
        Assert.DoesNotContain("door", text, StringComparison.Ordinal);
        using var reopened = Open(clock);
        Assert.NotNull(reopened.StartedBeforeRestart("e:alice|1800000000|click|open door"));
    }

    [Fact]
    public void Journal_DamagedLines_SkippedAndTheRestKept()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
        using (var journal = Open(clock))
        {
            journal.Record("m:1", clock.GetUtcNow() + TimeSpan.FromMinutes(30));
        }

        var good = File.ReadAllText(JournalFile);
        File.WriteAllText(JournalFile, "garbage\n1 2\n99999999999999999999999 1 00\n\n" + good + "1800001800 1800000000 zz");

        using (var reopened = Open(clock))
        {
            Assert.NotNull(reopened.StartedBeforeRestart("m:1"));
        }

        Assert.Equal(good, File.ReadAllText(JournalFile));
    }

    [Fact]
    public void Journal_ManyExpiredLines_FileCompactedToTheLiveOnes()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
        using var journal = Open(clock);
        for (var i = 0; i < 5000; i++)
        {
            journal.Record($"m:{i}", clock.GetUtcNow() + TimeSpan.FromMinutes(1));
        }

        Assert.Equal(5000, File.ReadLines(JournalFile).Count());
        clock.Advance(TimeSpan.FromMinutes(2));
        journal.Record("m:live", clock.GetUtcNow() + TimeSpan.FromMinutes(30));

        Assert.Single(File.ReadLines(JournalFile));
    }

    [Fact]
    public async Task Journal_ConcurrentRecordsThroughCompactions_NoneThrowsAndTheLiveOnesAreKept()
    {
        // Each line is synced outside the lock while other threads write and compact (which closes the stream): the
        // sync must keep its handle open, never touch a closed one, and lose nothing.
        var clock = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
        using (var journal = Open(clock))
        {
            var writers = Enumerable.Range(0, 4).Select(w => Task.Run(() =>
            {
                for (var i = 0; i < 2500; i++)
                {
                    journal.Record($"short:{w}:{i}", clock.GetUtcNow()); // expired at once: the file compacts every 4096 lines
                }

                // Last: a live line ahead of the expired ones would keep them (the journal drops from the oldest on).
                for (var i = 0; i < 5; i++)
                {
                    journal.Record($"live:{w}:{i}", clock.GetUtcNow() + TimeSpan.FromMinutes(30));
                }
            })).ToArray();
            await Task.WhenAll(writers);
            Assert.True(File.ReadLines(JournalFile).Count() < 4096, "the file was never compacted");
        }

        using var reopened = Open(clock);
        for (var w = 0; w < 4; w++)
        {
            for (var i = 0; i < 5; i++)
            {
                Assert.NotNull(reopened.StartedBeforeRestart($"live:{w}:{i}"));
            }
        }
    }

    [Fact]
    public void Journal_FileCannotBeWritten_RecordGoesOnAndTriesAgainAMinuteLater()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
        Directory.CreateDirectory(JournalFile); // in the file's place: every write fails, as on a read-only or full card
        using var journal = Open(clock);

        journal.Record("m:1", clock.GetUtcNow() + TimeSpan.FromMinutes(30)); // logged, not thrown
        Directory.Delete(JournalFile);
        journal.Record("m:2", clock.GetUtcNow() + TimeSpan.FromMinutes(30)); // within the minute: not tried
        Assert.False(File.Exists(JournalFile));

        clock.Advance(TimeSpan.FromSeconds(61));
        journal.Record("m:3", clock.GetUtcNow() + TimeSpan.FromMinutes(30));
        Assert.Equal(3, File.ReadLines(JournalFile).Count()); // everything still live is written then
    }

    [Fact]
    public void Journal_WithoutStateDirectory_RemembersNothingAcrossRestarts()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
        using var journal = new RunJournal(null, clock, NullLogger<RunJournal>.Instance);
        journal.Record("m:1", clock.GetUtcNow() + TimeSpan.FromMinutes(30));
        Assert.Null(journal.StartedBeforeRestart("m:1"));
    }

    [Fact]
    public async Task Callback_WeComRetryAfterRestart_NotRunAgain_SenderIsTold()
    {
        await using var api = await FakeWeComServer.StartAsync();
        var settings = WeComCallbackClient.Settings(api, $"--State:Directory={_directory}");
        var xml = WeComCallbackClient.TextXml("alice", "status", WeComCallbackClient.NextMsgId());
        var client = new WeComCallbackClient(new HttpClient());
        var (query, body) = client.Envelope(xml);

        await using (var first = await ApplianceServer.StartAsync(settings))
        {
            var answered = await WeComCallbackClient.For(first).ReadReplyAsync(await WeComCallbackClient.For(first).PostRawAsync(query, body));
            Assert.Contains("uptime", answered["Content"], StringComparison.OrdinalIgnoreCase);
            Assert.Equal(1, first.GetRequiredService<MessageDispatcher>().Executions);
        }

        // The same delivery again, to a restarted appliance (WeCom retries when its first try got no answer).
        await using var second = await ApplianceServer.StartAsync(settings);
        var callbacks = WeComCallbackClient.For(second);
        var reply = await callbacks.ReadReplyAsync(await callbacks.PostRawAsync(query, body));
        Assert.Contains("“status”", reply["Content"], StringComparison.Ordinal);
        Assert.Contains("not run again", reply["Content"], StringComparison.Ordinal);
        Assert.Equal(0, second.GetRequiredService<MessageDispatcher>().Executions);

        // Another message runs as usual.
        var other = await callbacks.ReadReplyAsync(await callbacks.PostAsync(WeComCallbackClient.TextXml("alice", "status", WeComCallbackClient.NextMsgId())));
        Assert.Contains("uptime", other["Content"], StringComparison.OrdinalIgnoreCase);
        Assert.Equal(1, second.GetRequiredService<MessageDispatcher>().Executions);
    }

    [Fact]
    public async Task HandleReplay_StartedBeforeRestart_NotRunAgain_SenderIsToldThroughMessageSend()
    {
        await using var api = await FakeWeComServer.StartAsync();
        await using var server = await ApplianceServer.StartAsync(WeComCallbackClient.Settings(api));
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var message = new InboundMessage(new Dictionary<string, string>
        {
            ["FromUserName"] = "alice", ["MsgType"] = "event", ["Event"] = "click", ["EventKey"] = "help",
            ["CreateTime"] = clock.GetUtcNow().ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture),
        });

        MessageDispatcher Dispatcher(RunJournal journal) => new(
            server.GetRequiredService<WeComOptions>(), server.GetRequiredService<WeComCommandRegistry>(), server.GetRequiredService<WeComMessenger>(),
            server.GetRequiredService<WeComMetrics>(), journal, clock, NullLogger<MessageDispatcher>.Instance, []);

        using (var journal = Open(clock))
        {
            var before = Dispatcher(journal);
            await before.HandleReplayAsync(message, clock.GetUtcNow());
            Assert.True(await FakeWeComServer.EventuallyAsync(() => before.Executions == 1 && api.CallsTo("message/send").Any(), TimeSpan.FromSeconds(10)));
        }

        // Restarted: the relay replays the same callback (its answer had not reached the relay before the restart).
        clock.Advance(TimeSpan.FromMinutes(5));
        using var reopened = Open(clock);
        var after = Dispatcher(reopened);
        await after.HandleReplayAsync(message, clock.GetUtcNow() - TimeSpan.FromMinutes(5));
        Assert.True(await FakeWeComServer.EventuallyAsync(() => api.CallsTo("message/send").Count() == 2, TimeSpan.FromSeconds(10)));
        var notice = FakeWeComServer.Json(api.CallsTo("message/send").Last()).GetProperty("text").GetProperty("content").GetString();
        Assert.Contains("“help”", notice, StringComparison.Ordinal);
        Assert.Contains("not run again", notice, StringComparison.Ordinal);
        Assert.Equal(0, after.Executions);
    }
}

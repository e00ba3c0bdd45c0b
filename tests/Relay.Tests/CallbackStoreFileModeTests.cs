using Relay.WeCom;

namespace Relay.Tests;

/// <summary>The queue of WeCom callbacks is readable by the relay's user only (the probe found it 0644).</summary>
public sealed class CallbackStoreFileModeTests
{
    [Fact]
    public void NewStore_FileIsOwnerOnly_AndAnOlderWideFileIsNarrowed()
    {
        var directory = Directory.CreateTempSubdirectory("relay-store-").FullName;
        try
        {
            var path = Path.Combine(directory, "callbacks.db");
            using (var store = new CallbackStore(path))
            {
                store.Add("cam", 1, "/wecom/callback?a=1", "text/xml", [1], "sig", live: false, maxStored: 10);
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
                foreach (var side in new[] { path + "-wal", path + "-shm" }.Where(File.Exists))
                {
                    Assert.Equal(UnixFileMode.None, File.GetUnixFileMode(side) & (UnixFileMode.OtherRead | UnixFileMode.GroupRead));
                }
            }

            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            using (new CallbackStore(path))
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}

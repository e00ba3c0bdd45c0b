using Appliance.Hosting;

namespace Appliance.Tests.Hosting;

/// <summary>The state directory's files; that they outlive a power cut is the hardware lane's (its power cut: tests/lanes/hardware.sh).</summary>
public sealed class StateDirectoryTests
{
    [Fact]
    public void GetOrCreateSecret_SecondCall_ReturnsTheSameBytesFromAnOwnerOnlyFile()
    {
        var state = new StateDirectory(Directory.CreateTempSubdirectory("state-").FullName);
        var first = state.GetOrCreateSecret("key");
        Assert.Equal(32, first.Length);
        Assert.Equal(first, state.GetOrCreateSecret("key"));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(state.File("key")));
        Assert.False(File.Exists(state.File("key.tmp")));
        Directory.Delete(state.Path, recursive: true);
    }

    [Fact]
    public void Sync_DirectoryGone_IOExceptionNamesIt()
    {
        var state = new StateDirectory(Directory.CreateTempSubdirectory("state-").FullName);
        state.Sync();
        Directory.Delete(state.Path);

        var error = Assert.Throws<IOException>(state.Sync);
        Assert.Contains(state.Path, error.Message, StringComparison.Ordinal);
    }
}

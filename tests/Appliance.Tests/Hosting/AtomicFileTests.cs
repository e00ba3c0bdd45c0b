using Appliance.Hosting;

namespace Appliance.Tests.Hosting;

/// <summary>The one way state files are replaced; that they outlive a power cut is the hardware lane's (its power cut: tests/lanes/hardware.sh).</summary>
public sealed class AtomicFileTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("atomic-");

    private string PathOf(string name) => Path.Combine(_directory.FullName, name);

    public void Dispose() => _directory.Delete(recursive: true);

    [Fact]
    public void Write_OwnerOnly_FileIsMode0600AndNoTemporaryLeft()
    {
        var path = PathOf("secret");

        AtomicFile.WriteAllText(path, "s3cret", AtomicFile.OwnerOnly);

        Assert.Equal("s3cret", File.ReadAllText(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        Assert.Equal("secret", Assert.Single(_directory.GetFiles()).Name);
    }

    [Fact]
    public void Write_GroupReadable_FileHasExactlyThatMode()
    {
        var path = PathOf("armed.json");
        var mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead;

        AtomicFile.WriteAllBytes(path, [1, 2, 3], mode);

        Assert.Equal(mode, File.GetUnixFileMode(path));
        Assert.Equal(new byte[] { 1, 2, 3 }, File.ReadAllBytes(path));
    }

    [Fact]
    public void Write_LeftoverTemporaryWithWideMode_NewFileStillGetsTheModeAskedFor()
    {
        var path = PathOf("token");
        File.WriteAllText(path + ".tmp", "left by a crash");
        File.SetUnixFileMode(path + ".tmp", AtomicFile.Default);

        AtomicFile.WriteAllText(path, "new", AtomicFile.OwnerOnly);

        Assert.Equal("new", File.ReadAllText(path));
        Assert.Equal(AtomicFile.OwnerOnly, File.GetUnixFileMode(path));
        Assert.False(File.Exists(path + ".tmp"));
    }

    [Fact]
    public void Write_ExistingFile_ReplacedByRenameSoAnOpenReaderKeepsTheWholeOldContent()
    {
        var path = PathOf("sessions.json");
        File.WriteAllText(path, "old content");
        using var reader = new StreamReader(path);

        AtomicFile.WriteAllText(path, "new content, longer than the old", AtomicFile.OwnerOnly);

        // Written in place, the open reader would see the new bytes (or a mix); replaced by a rename it keeps the old file.
        Assert.Equal("old content", reader.ReadToEnd());
        Assert.Equal("new content, longer than the old", File.ReadAllText(path));
        Assert.Equal("sessions.json", Assert.Single(_directory.GetFiles()).Name);
    }

    [Fact]
    public void Write_WriterThrows_OldContentKeptAndNoTemporaryLeft()
    {
        var path = PathOf("browser-settings.json");
        File.WriteAllText(path, "{\"kept\":true}");

        var error = Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, AtomicFile.OwnerOnly, stream =>
        {
            stream.Write("{\"half"u8);
            throw new InvalidOperationException("serializer failed");
        }));

        Assert.Equal("serializer failed", error.Message);
        Assert.Equal("{\"kept\":true}", File.ReadAllText(path));
        Assert.Equal("browser-settings.json", Assert.Single(_directory.GetFiles()).Name);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WriteOrCommit_RenameFails_ThrowsAndNoTemporaryLeft(bool commit)
    {
        // A directory where the file should be: the rename over it fails after the temporary file was written.
        var path = PathOf("armed.json");
        Directory.CreateDirectory(path);
        if (commit)
        {
            File.WriteAllText(path + ".tmp", "written by ffmpeg");
        }

        Assert.ThrowsAny<IOException>(() =>
        {
            if (commit)
            {
                AtomicFile.Commit(path + ".tmp", path);
            }
            else
            {
                AtomicFile.WriteAllText(path, "{}", AtomicFile.Default);
            }
        });

        Assert.True(Directory.Exists(path));
        Assert.Empty(_directory.GetFiles());
    }

    [Fact]
    public void Write_DirectoryMissing_DirectoryNotFound()
    {
        var path = Path.Combine(_directory.FullName, "absent", "file");

        Assert.Throws<DirectoryNotFoundException>(() => AtomicFile.WriteAllText(path, "x", AtomicFile.OwnerOnly));
    }

    [Fact]
    public void Commit_FileAnotherProgramWrote_TakesThePlaceOfTheOldOne()
    {
        var path = PathOf("clip.mp4");
        File.WriteAllText(path, "old mp4");
        File.WriteAllText(path + ".tmp", "new mp4");

        AtomicFile.Commit(path + ".tmp", path);

        Assert.Equal("new mp4", File.ReadAllText(path));
        Assert.Equal("clip.mp4", Assert.Single(_directory.GetFiles()).Name);
    }
}

using System.Text;

namespace Appliance.Hosting;

/// <summary>
/// Replaces a file so that a reader, a crash or a power cut (a Pi's usual way to stop) finds the old content or the
/// whole new one, never a part: the content goes to <c>NAME.tmp</c> in the same directory, is put on the disk (fsync),
/// renamed over the file, and the directory's entry is put on the disk too. Callers that write one file from several
/// threads hold their own lock: the temporary name is fixed, so a crash leaves at most one <c>.tmp</c>, which the next
/// write replaces.
/// </summary>
internal static class AtomicFile
{
    /// <summary>0600: secrets, sessions, caches of tokens.</summary>
    public const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>0666 less the process's umask (0640 under the units' UMask=0027), as <see cref="File.WriteAllText(string, string?)"/> makes it.</summary>
    public const UnixFileMode Default = OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;

    /// <summary>Replaces <paramref name="path"/> with <paramref name="content"/> (UTF-8, no BOM).</summary>
    public static void WriteAllText(string path, string content, UnixFileMode mode) =>
        WriteAllBytes(path, Encoding.UTF8.GetBytes(content), mode);

    /// <summary>Replaces <paramref name="path"/> with <paramref name="content"/>.</summary>
    public static void WriteAllBytes(string path, byte[] content, UnixFileMode mode) =>
        Write(path, mode, stream => stream.Write(content));

    /// <summary>
    /// Replaces <paramref name="path"/> with what <paramref name="write"/> writes to the stream it is given; the file is
    /// created with <paramref name="mode"/> (less the umask, as open(2) does). When anything fails the file is as it
    /// was, no temporary file is left, and the exception is thrown on.
    /// </summary>
    public static void Write(string path, UnixFileMode mode, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(write);
        var temporary = path + ".tmp";
        try
        {
            // A .tmp left by a crash may have another mode: only a file this call creates gets the mode asked for.
            File.Delete(temporary);
            using (var stream = new FileStream(temporary, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = mode,
            }))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }

            Rename(temporary, path);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    /// <summary>
    /// Puts <paramref name="temporary"/>, a file another program wrote (ffmpeg's mp4), in the place of
    /// <paramref name="path"/> the same way; on failure the temporary file is deleted.
    /// </summary>
    public static void Commit(string temporary, string path)
    {
        ArgumentNullException.ThrowIfNull(temporary);
        ArgumentNullException.ThrowIfNull(path);
        try
        {
            using (var handle = File.OpenHandle(temporary, FileMode.Open, FileAccess.Read))
            {
                DiskSync.File(handle, temporary);
            }

            Rename(temporary, path);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    private static void Rename(string temporary, string path)
    {
        File.Move(temporary, path, overwrite: true);
        DiskSync.Directory(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    private static void TryDelete(string temporary)
    {
        try
        {
            File.Delete(temporary);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The original error says more; a .tmp left here is replaced by the next write.
        }
    }
}

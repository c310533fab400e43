using System.Runtime.InteropServices;

namespace Coordinated.Checkpointing;

/// <summary>
/// The POSIX calls that make files durable: fsync of a file, fsync of a directory (after a rename), and a
/// writeback hint. Each failure is an <see cref="IOException"/> that names the call and the path. Local.
/// </summary>
internal static class DurableFiles
{
    /// <summary>fsync(2) of a file's data and metadata.</summary>
    internal static void FlushFile(string path) => Fsync(path, Interop.Libc.O_RDONLY | Interop.Libc.O_CLOEXEC, faultPoint: null, 0);

    /// <summary>
    /// fdatasync(2): the file's data and the metadata needed to read it back (size, block map), not its times. A
    /// snapshot rewritten in place keeps its size and blocks, so no journal commit is needed; its name is made
    /// durable by <see cref="FlushDirectory"/> after the rename.
    /// </summary>
    internal static void FlushFileData(string path) => Fsync(path, Interop.Libc.O_RDONLY | Interop.Libc.O_CLOEXEC, faultPoint: null, 0, dataOnly: true);

    /// <summary>
    /// fsync(2) of a directory, making renames and unlinks in it durable. Its result counts: a failure here means
    /// the rename may not survive a crash, so the caller must not treat it as committed. Fault point
    /// <c>fsync-directory</c> makes this call fail as if fsync had returned EIO.
    /// </summary>
    internal static void FlushDirectory(string path, long step, string? faultPoint = "fsync-directory") =>
        Fsync(path, Interop.Libc.O_RDONLY | Interop.Libc.O_DIRECTORY | Interop.Libc.O_CLOEXEC, faultPoint, step);

    /// <summary>
    /// Starts writeback of a byte range that this rank has just written (sync_file_range with WRITE only: it
    /// does not wait and promises nothing). The disk then works while the rest of the snapshot is written, and
    /// the flush of <see cref="FlushFileData"/>, which stays the durability point, finds less to do. Best effort.
    /// </summary>
    internal static void StartWriteback(string path, long offset, long length)
    {
        int fd = Interop.Libc.open(path, Interop.Libc.O_RDONLY | Interop.Libc.O_CLOEXEC);
        if (fd >= 0)
        {
            _ = Interop.Libc.sync_file_range(fd, offset, length, Interop.Libc.SYNC_FILE_RANGE_WRITE);
            _ = Interop.Libc.close(fd);
        }
    }

    private static void Fsync(string path, int flags, string? faultPoint, long step, bool dataOnly = false)
    {
        int fd = Interop.Libc.open(path, flags);
        if (fd < 0)
        {
            throw new IOException($"open('{path}') for fsync failed: {Marshal.GetLastPInvokeErrorMessage()}");
        }

        try
        {
            int rc = dataOnly ? Interop.Libc.fdatasync(fd) : Interop.Libc.fsync(fd);
            string error = rc != 0 ? Marshal.GetLastPInvokeErrorMessage() : "";
            if (faultPoint is not null && FaultInjection.Fails(faultPoint, 0, step))
            {
                (rc, error) = (-1, "Input/output error (injected: COORDINATED_FAULT_FAIL)");
            }

            if (rc != 0)
            {
                throw new IOException($"{(dataOnly ? "fdatasync" : "fsync")}('{path}') failed: {error}");
            }
        }
        finally
        {
            _ = Interop.Libc.close(fd);
        }
    }
}

using System.Runtime.InteropServices;

namespace Coordinated;

internal static partial class Interop
{
    internal static partial class Libc
    {
        internal const int O_RDONLY = 0;
        internal const int O_DIRECTORY = 0x10000;
        internal const int O_CLOEXEC = 0x80000;

        [LibraryImport(Libraries.Libc, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static partial int open(string path, int flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "fsync", SetLastError = true)]
        internal static partial int fsync(int fd);

        internal const uint SYNC_FILE_RANGE_WRITE = 2;

        [LibraryImport(Libraries.Libc, EntryPoint = "sync_file_range", SetLastError = true)]
        internal static partial int sync_file_range(int fd, long offset, long nbytes, uint flags);

        [LibraryImport(Libraries.Libc, EntryPoint = "close", SetLastError = true)]
        internal static partial int close(int fd);

        /// <summary>statfs(2); <paramref name="buffer"/> receives a struct statfs (120 bytes on x86_64 and aarch64; f_type is its first field, a long).</summary>
        [LibraryImport(Libraries.Libc, EntryPoint = "statfs", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static unsafe partial int statfs(string path, byte* buffer);

        [LibraryImport(Libraries.Libc, EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        internal static partial int setenv(string name, string value, int overwrite);
    }
}

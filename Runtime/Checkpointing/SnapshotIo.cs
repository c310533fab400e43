using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using Coordinated.Mpi;
using static Coordinated.Interop.Hdf5;

namespace Coordinated.Checkpointing;

/// <summary>
/// Writes and reads whole snapshots. Every phase that can fail on some ranks is followed by an agreement
/// (one allreduce), so all ranks take the same path and nobody is left waiting in a collective call.
/// </summary>
internal static class SnapshotIo
{
    internal const string FormatName = "coordinated-checkpoint";
    internal const long FormatVersion = 1;

    internal struct WriteTimings
    {
        internal long Bytes;
        internal double WriteSeconds;
        internal double FlushSeconds;
    }

    /// <summary>What one snapshot holds: the app's live arrays, or a staged copy of them for an asynchronous write.</summary>
    internal sealed record SnapshotContent(
        string App,
        int RestartCount,
        IReadOnlyList<StateArray> Arrays,
        IReadOnlyDictionary<string, object> Parameters,
        IReadOnlyList<(string Name, double Value)> Scalars);

    internal sealed record ReadOutcome(string? Error, long Step = 0, long RestartCount = 0, long WriterRanks = 0, long Bytes = 0, double ReadSeconds = 0, double VerifySeconds = 0);

    /// <summary>Writes and flushes a complete snapshot at <paramref name="path"/>. Returns null or what went wrong. Collective.</summary>
    internal static string? Write(Communicator comm, string path, SnapshotContent owner, long step, string trigger, out WriteTimings timings)
    {
        timings = default;
        timings.Bytes = owner.Arrays.Sum(a => a.GlobalCount * a.ElementBytes);
        IoTuning tuning = IoTuning.Default;
        var write = Stopwatch.StartNew();
        SnapshotFile? file = null;
        string? error = Agree(comm, "creating the file", Run(() =>
        {
            file = SnapshotFile.Create(comm, path, tuning);
            FaultInjection.At("created", comm.Rank, step);
        }));
        if (error is not null)
        {
            return error;
        }

        try
        {
            error = Agree(comm, "writing attributes", Run(() => WriteMetadata(file!, comm, owner, step, trigger)));
            foreach (StateArray array in owner.Arrays)
            {
                if (error is not null)
                {
                    break;
                }

                long[] rows = ChecksumRows(array, comm.Rank, out long firstRow, out long totalRows);
                error = Agree(comm, $"writing /state/{array.Name}", Run(() =>
                    {
                        long offset = file!.WriteState(array, array.Bytes);
                        if (offset >= 0 && array.LocalCount > 0 && tuning.StartWriteback && !tuning.CollectiveData)
                        {
                            CheckpointDirectory.StartWriteback(path, offset, array.LocalCount * array.ElementBytes);
                        }
                    }))
                    ?? Agree(comm, $"writing /checksums/{array.Name}", Run(() => file!.WriteChecksums(array.Name, rows, firstRow, totalRows)));
            }

            error ??= Agree(comm, "writing /state", Run(() => FaultInjection.At("state-written", comm.Rank, step)));
            if (error is not null)
            {
                return error; // the finally block closes the file
            }

            var closing = file;
            file = null;
            error = Agree(comm, "closing the file", Run(() =>
            {
                closing!.Dispose();
                FaultInjection.At("closed", comm.Rank, step);
            }));
            timings.WriteSeconds = write.Elapsed.TotalSeconds;
            if (error is not null)
            {
                return error;
            }

            var flush = Stopwatch.StartNew();
            error = Agree(comm, "flushing to stable storage (fsync)", Run(() =>
            {
                CheckpointDirectory.FlushFile(path);
                FaultInjection.At("flushed", comm.Rank, step);
            }));
            timings.FlushSeconds = flush.Elapsed.TotalSeconds;
            return error;
        }
        finally
        {
            if (file is not null)
            {
                // After a failed phase all ranks are here. A full disk also makes the close fail (HDF5 flushes its
                // metadata), and a file left open would hang MPI_Finalize; emptying the doomed file first frees the
                // space, so the close can succeed. The caller deletes the file afterwards.
                if (comm.IsRoot)
                {
                    Run(() => File.WriteAllBytes(path, []));
                }

                comm.Barrier();
                if (Run(() => file.Dispose()) is Exception e)
                {
                    Console.Error.WriteLine($"[coordinated] rank {comm.Rank}: closing the failed snapshot also failed: {e.Message}");
                }
            }
        }
    }

    /// <summary>Rank 0's check that the snapshot fits before anything is written; null when it does (or cannot be known).</summary>
    internal static string? CheckSpace(string directory, long bytes, int datasets)
    {
        if (Environment.GetEnvironmentVariable("COORDINATED_SKIP_SPACE_CHECK") == "1")
        {
            return null; // tests use this to reach the out-of-space path inside HDF5
        }

        try
        {
            long free = new DriveInfo(directory).AvailableFreeSpace;
            long needed = bytes + (datasets * 8192L) + (256 << 10); // data, per-dataset metadata, the rest (alignment gaps are holes)
            return free >= needed
                ? null
                : $"not enough space in {directory}: {Checkpointer.FormatBytes(free)} free, the snapshot needs about {Checkpointer.FormatBytes(needed)} (No space left on device)";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>" [DIR: X free of Y]" so that a failed write says whether the disk is full; empty if unknown.</summary>
    internal static string DescribeSpace(string directory)
    {
        try
        {
            var drive = new DriveInfo(directory);
            return $" [{directory}: {Checkpointer.FormatBytes(drive.AvailableFreeSpace)} free of {Checkpointer.FormatBytes(drive.TotalSize)}]";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return "";
        }
    }

    private static void WriteMetadata(SnapshotFile file, Communicator comm, SnapshotContent owner, long step, string trigger)
    {
        file.WriteAttribute("/", "format", FormatName);
        file.WriteAttribute("/", "format_version", FormatVersion);
        file.WriteAttribute("/", "app", owner.App);
        file.WriteAttribute("/", "step", step);
        file.WriteAttribute("/", "ranks", (long)comm.Size);
        file.WriteAttribute("/", "hosts", Hosts(comm));
        file.WriteAttribute("/", "created_utc", DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
        file.WriteAttribute("/", "trigger", trigger);
        file.WriteAttribute("/", "restart_count", (long)owner.RestartCount);
        file.WriteAttribute("/", "state_names", string.Join(",", owner.Arrays.Select(a => a.Name)));
        file.WriteAttribute("/", "checksum_algorithm", "crc32c");
        file.WriteAttribute("/", "runtime", "Coordinated " + (typeof(SnapshotIo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?"));
        file.CreateGroup("/state");
        file.CreateGroup("/checksums");
        file.CreateGroup("/params");
        foreach (var (name, value) in owner.Parameters)
        {
            file.WriteAttribute("/params", name, value);
        }

        file.CreateGroup("/scalars");
        foreach (var (name, value) in owner.Scalars)
        {
            file.WriteAttribute("/scalars", name, value);
        }
    }

    private static string? s_hosts;

    /// <summary>Every rank's host name in rank order, comma-separated (root attribute <c>hosts</c>); gathered once per process.</summary>
    /// <remarks>Collective on <paramref name="comm"/> the first time it is called.</remarks>
    private static string Hosts(Communicator comm)
    {
        if (s_hosts is { } known)
        {
            return known;
        }

        byte[] mine = System.Text.Encoding.UTF8.GetBytes(Environment.MachineName);
        int[] counts = comm.Allgather(mine.Length);
        int[] displacements = new int[counts.Length];
        for (int r = 1; r < counts.Length; r++)
        {
            displacements[r] = displacements[r - 1] + counts[r - 1];
        }

        byte[] all = new byte[displacements[^1] + counts[^1]];
        comm.Allgatherv<byte>(mine, all, counts, displacements);
        var names = counts.Select((count, r) => System.Text.Encoding.UTF8.GetString(all, displacements[r], count));
        return s_hosts = string.Join(",", names);
    }

    /// <summary>This rank's checksum rows (offset, count, crc32c) over its slice, in blocks of at most 4 MiB.</summary>
    internal static long[] ChecksumRows(StateArray array, int rank, out long firstRow, out long totalRows)
    {
        long blockElements = Math.Max(1, SnapshotFile.ChecksumBlockBytes / array.ElementBytes);
        static long RowsFor(long count, long per) => (count + per - 1) / per;
        firstRow = 0;
        totalRows = 0;
        for (int r = 0; r < array.Partition.Length; r++)
        {
            long rowsOfRank = RowsFor(array.Partition[r].Count, blockElements);
            if (r < rank)
            {
                firstRow += rowsOfRank;
            }

            totalRows += rowsOfRank;
        }

        return ComputeRows(array, blockElements);
    }

    private static long[] ComputeRows(StateArray array, long blockElements)
    {
        long rowCount = (array.LocalCount + blockElements - 1) / blockElements;
        var rows = new long[rowCount * 3];
        Span<byte> bytes = array.Bytes;
        int blockBytes = (int)(blockElements * array.ElementBytes);
        long i = 0;
        long fullBlocks = IoTuning.Default.ChecksumStreams == 3 ? array.LocalCount / blockElements : 0;
        for (; i + 3 <= fullBlocks; i += 3)
        {
            // Three full blocks at a time: three independent CRC streams (see Crc32C.Compute3).
            var (c0, c1, c2) = Crc32C.Compute3(
                bytes.Slice((int)(i * blockBytes), blockBytes),
                bytes.Slice((int)((i + 1) * blockBytes), blockBytes),
                bytes.Slice((int)((i + 2) * blockBytes), blockBytes));
            for (int j = 0; j < 3; j++)
            {
                rows[(i + j) * 3] = array.GlobalOffset + ((i + j) * blockElements);
                rows[((i + j) * 3) + 1] = blockElements;
                rows[((i + j) * 3) + 2] = j switch { 0 => c0, 1 => c1, _ => c2 };
            }
        }

        for (; i < rowCount; i++)
        {
            long start = i * blockElements;
            long count = Math.Min(blockElements, array.LocalCount - start);
            rows[i * 3] = array.GlobalOffset + start;
            rows[(i * 3) + 1] = count;
            rows[(i * 3) + 2] = Crc32C.Compute(bytes.Slice((int)(start * array.ElementBytes), (int)(count * array.ElementBytes)));
        }

        return rows;
    }

    /// <summary>
    /// Opens, validates, loads and verifies one snapshot into the owner's registered state. On any failure returns
    /// the reason (same on all ranks) and leaves files untouched. Collective.
    /// </summary>
    internal static ReadOutcome TryRead(Communicator comm, string path, Checkpointer owner)
    {
        var read = Stopwatch.StartNew();
        SnapshotFile? file = null;
        string? error = Agree(comm, null, Run(() =>
        {
            file = SnapshotFile.Open(comm, path, IoTuning.Default);
            FaultInjection.At("restore-opened", comm.Rank, 0);
        }));
        if (error is not null)
        {
            return new ReadOutcome($"not a readable HDF5 file (damaged or truncated): {error}");
        }

        try
        {
            Metadata meta = default;
            error = Agree(comm, null, Run(() => meta = Validate(file!, owner)));
            if (error is not null)
            {
                return new ReadOutcome(error);
            }

            foreach (StateArray array in owner.Arrays)
            {
                error = Agree(comm, $"reading /state/{array.Name}", Run(() =>
                    file!.ReadRows("/state/" + array.Name, array.MemoryType, array.Components, array.GlobalCount, array.GlobalOffset, array.LocalCount, array.Bytes, collective: IoTuning.Default.CollectiveData)));
                if (error is not null)
                {
                    return new ReadOutcome($"unreadable data: {error}");
                }
            }

            double readSeconds = read.Elapsed.TotalSeconds;
            var verify = Stopwatch.StartNew();
            foreach (StateArray array in owner.Arrays)
            {
                error = Agree(comm, null, Run(() => Verify(file!, array)));
                if (error is not null)
                {
                    return new ReadOutcome(error);
                }
            }

            double verifySeconds = verify.Elapsed.TotalSeconds;
            var closing = file;
            file = null;
            error = Agree(comm, "closing the file", Run(() => closing!.Dispose()));
            if (error is not null)
            {
                return new ReadOutcome(error);
            }

            foreach (var (name, _, set) in owner.Scalars)
            {
                set(meta.Scalars![name]);
            }

            long bytes = owner.Arrays.Sum(a => a.GlobalCount * a.ElementBytes);
            return new ReadOutcome(null, meta.Step, meta.RestartCount, meta.Ranks, bytes, readSeconds, verifySeconds);
        }
        finally
        {
            if (file is not null)
            {
                Run(() => file.Dispose());
            }
        }
    }

    private struct Metadata
    {
        internal long Step;
        internal long RestartCount;
        internal long Ranks;
        internal Dictionary<string, double> Scalars;
    }

    private static Metadata Validate(SnapshotFile file, Checkpointer owner)
    {
        object? format = file.ReadAttribute("/", "format");
        if (format is not string f || f != FormatName)
        {
            throw new InvalidDataException(format is null
                ? "not a Coordinated checkpoint (no 'format' attribute)"
                : $"not a Coordinated checkpoint (format is '{format}')");
        }

        if (file.ReadAttribute("/", "format_version") is not long version || version < 1)
        {
            throw new InvalidDataException("damaged metadata: no valid 'format_version'");
        }

        if (version > FormatVersion)
        {
            throw new InvalidDataException($"incompatible: format version {version} is newer than this runtime reads ({FormatVersion}); use a newer Coordinated");
        }

        object? app = file.ReadAttribute("/", "app");
        if (app is not string a || a != owner.App)
        {
            throw new InvalidDataException($"incompatible: written by app '{app}', this is '{owner.App}'");
        }

        var mismatches = new List<string>();
        foreach (var (name, expected) in owner.Parameters)
        {
            object? stored = file.ReadAttribute("/params", name);
            if (stored is null)
            {
                mismatches.Add($"the snapshot has no parameter '{name}' (this run has {name} = {Show(expected)})");
            }
            else if (!SameValue(stored, expected))
            {
                mismatches.Add($"the snapshot has {name} = {Show(stored)}, this run has {name} = {Show(expected)}");
            }
        }

        if (mismatches.Count > 0)
        {
            throw new InvalidDataException("incompatible: " + string.Join("; ", mismatches));
        }

        string names = file.ReadAttribute("/", "state_names") as string ?? "";
        string registered = string.Join(",", owner.Arrays.Select(x => x.Name));
        if (names != registered)
        {
            throw new InvalidDataException($"incompatible: the snapshot holds state [{names}], this app registers [{registered}]");
        }

        foreach (StateArray array in owner.Arrays)
        {
            var (dims, typeClass, valueSize) = file.DescribeDataset("/state/" + array.Name);
            bool shapeOk = array.Components == 1
                ? dims.Length == 1 && dims[0] == (ulong)array.GlobalCount
                : dims.Length == 2 && dims[0] == (ulong)array.GlobalCount && dims[1] == (ulong)array.Components;
            if (!shapeOk)
            {
                throw new InvalidDataException(
                    $"incompatible: /state/{array.Name} has shape [{string.Join(", ", dims)}], this run needs [{array.GlobalCount}{(array.Components > 1 ? $", {array.Components}" : "")}]");
            }

            if (typeClass != array.TypeClass || valueSize != array.ValueSize)
            {
                throw new InvalidDataException($"incompatible: /state/{array.Name} has another element type than {array.TypeName}");
            }

            if (!file.Exists("/checksums/" + array.Name))
            {
                throw new InvalidDataException($"damaged: /checksums/{array.Name} is missing");
            }
        }

        var scalars = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (name, _, _) in owner.Scalars)
        {
            scalars[name] = file.ReadAttribute("/scalars", name) is double d
                ? d
                : throw new InvalidDataException($"incompatible: the snapshot has no scalar '{name}'");
        }

        return new Metadata
        {
            Step = file.ReadAttribute("/", "step") is long step && step >= 0 ? step : throw new InvalidDataException("damaged metadata: no valid 'step'"),
            RestartCount = file.ReadAttribute("/", "restart_count") as long? ?? 0,
            Ranks = file.ReadAttribute("/", "ranks") as long? ?? 0,
            Scalars = scalars,
        };
    }

    /// <summary>Checks every checksum row that overlaps this rank's slice (reading neighbours' bytes where a row straddles).</summary>
    private static void Verify(SnapshotFile file, StateArray array)
    {
        var (dims, _, _) = file.DescribeDataset("/checksums/" + array.Name);
        if (dims.Length != 2 || dims[1] != 3)
        {
            throw new InvalidDataException($"damaged: /checksums/{array.Name} has shape [{string.Join(", ", dims)}]");
        }

        long rowCount = (long)dims[0];
        var rows = new long[rowCount * 3];
        file.ReadRows("/checksums/" + array.Name, Ids.NativeInt64, 3, rowCount, 0, rowCount, MemoryMarshal.AsBytes(rows.AsSpan()), collective: false);

        var order = Enumerable.Range(0, (int)rowCount).OrderBy(i => rows[i * 3]).ToArray();
        long expected = 0;
        foreach (int i in order)
        {
            if (rows[i * 3] != expected || rows[(i * 3) + 1] <= 0)
            {
                throw new InvalidDataException($"damaged: /checksums/{array.Name} does not cover /state/{array.Name} exactly (at element {expected})");
            }

            expected += rows[(i * 3) + 1];
        }

        if (expected != array.GlobalCount)
        {
            throw new InvalidDataException($"damaged: /checksums/{array.Name} covers {expected} of {array.GlobalCount} elements");
        }

        long a = array.GlobalOffset, b = array.GlobalOffset + array.LocalCount;
        int eb = array.ElementBytes;
        Span<byte> local = array.Bytes;
        foreach (int i in order)
        {
            long offset = rows[i * 3], count = rows[(i * 3) + 1];
            uint stored = (uint)rows[(i * 3) + 2];
            if (offset + count <= a || offset >= b)
            {
                continue;
            }

            uint crc = 0;
            if (offset < a)
            {
                crc = Crc32C.Append(crc, ReadElements(file, array, offset, a - offset));
            }

            long midStart = Math.Max(offset, a), midEnd = Math.Min(offset + count, b);
            crc = Crc32C.Append(crc, local.Slice((int)((midStart - a) * eb), (int)((midEnd - midStart) * eb)));
            if (offset + count > b)
            {
                crc = Crc32C.Append(crc, ReadElements(file, array, b, offset + count - b));
            }

            if (crc != stored)
            {
                throw new InvalidDataException(
                    $"corrupt: checksum mismatch in /state/{array.Name} elements [{offset}, {offset + count}) (stored {stored:x8}, computed {crc:x8})");
            }
        }
    }

    private static byte[] ReadElements(SnapshotFile file, StateArray array, long offset, long count)
    {
        var buffer = new byte[count * array.ElementBytes];
        file.ReadRows("/state/" + array.Name, array.MemoryType, array.Components, array.GlobalCount, offset, count, buffer, collective: false);
        return buffer;
    }

    private static bool SameValue(object stored, object expected) => (stored, expected) switch
    {
        (long s, long e) => s == e,
        (double s, double e) => BitConverter.DoubleToInt64Bits(s) == BitConverter.DoubleToInt64Bits(e),
        (string s, string e) => s == e,
        _ => false,
    };

    private static string Show(object value) => value switch
    {
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        string s => $"'{s}'",
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };

    private static Exception? Run(Action action)
    {
        try
        {
            action();
            return null;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return e;
        }
    }

    /// <summary>
    /// All ranks learn whether <paramref name="error"/> was null everywhere; if not, the message of the lowest failing
    /// rank. Collective (one allreduce; one broadcast only on failure).
    /// </summary>
    internal static string? Agree(Communicator comm, string? phase, Exception? error)
    {
        int failed = comm.Allreduce(error is null ? comm.Size : comm.Rank, ReduceOp.Min);
        if (failed == comm.Size)
        {
            return null;
        }

        string? message = null;
        if (comm.Rank == failed)
        {
            string where = comm.Size > 1 ? $" (rank {failed})" : "";
            message = phase is null ? error!.Message + where : $"{phase}{where}: {error!.Message}";
        }

        return comm.Broadcast(message, failed);
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using Coordinated.Mpi;

namespace Coordinated.Checkpointing;

/// <summary>
/// Writes one whole snapshot file (docs/FORMAT.md) and flushes it to stable storage. Every phase that can fail on
/// some ranks is followed by an agreement (<see cref="Phases.Agree"/>), so all ranks take the same path and nobody is
/// left waiting in a collective call. Where the file goes and when it counts is <see cref="CommitProtocol"/>'s job.
/// </summary>
internal static class SnapshotWriter
{
    internal const string FormatName = "coordinated-checkpoint";
    internal const long FormatVersion = 1;

    internal struct WriteTimings
    {
        internal long Bytes;
        internal double WriteSeconds;
        internal double FlushSeconds;
    }

    /// <summary>
    /// Writes and flushes a complete snapshot at <paramref name="path"/>: a new file, or with <paramref name="rewrite"/>
    /// an existing snapshot file of the same layout overwritten in place (every dataset, checksum and attribute).
    /// Returns null or what went wrong. Collective.
    /// </summary>
    internal static string? Write(Communicator comm, string path, SnapshotContent owner, long step, string trigger, out WriteTimings timings, bool rewrite = false)
    {
        timings = default;
        timings.Bytes = owner.Arrays.Sum(a => a.GlobalCount * a.ElementBytes);
        IoTuning tuning = IoTuning.Default;
        var write = Stopwatch.StartNew();
        SnapshotFile? file = null;
        string? error = Phases.Agree(comm, rewrite ? "opening the recycled file" : "creating the file", Phases.Run(() =>
        {
            file = rewrite ? SnapshotFile.OpenForRewrite(comm, path, tuning) : SnapshotFile.Create(comm, path, tuning);
            FaultInjection.At("created", comm.Rank, step);
        }));
        if (error is not null)
        {
            return error;
        }

        try
        {
            error = Phases.Agree(comm, "writing attributes", Phases.Run(() => WriteMetadata(file!, comm, owner, step, trigger)));
            foreach (StateArray array in owner.Arrays)
            {
                if (error is not null)
                {
                    break;
                }

                long[] rows = ChecksumRows(array, comm.Rank, out long firstRow, out long totalRows);
                error = Phases.Agree(comm, $"writing /state/{array.Name}", Phases.Run(() =>
                    {
                        long offset = file!.WriteState(array, array.Bytes);
                        if (offset >= 0 && array.LocalCount > 0 && tuning.StartWriteback && !tuning.CollectiveData)
                        {
                            DurableFiles.StartWriteback(path, offset, array.LocalCount * array.ElementBytes);
                        }
                    }))
                    ?? Phases.Agree(comm, $"writing /checksums/{array.Name}", Phases.Run(() => file!.WriteChecksums(array.Name, rows, firstRow, totalRows)));
            }

            if (error is not null)
            {
                return error; // the finally block closes the file
            }

            // Close and flush are one phase with one agreement: neither the flush nor the fault points take part in
            // a collective call, so a rank whose close failed can skip its flush without leaving anyone waiting.
            var closing = file;
            file = null;
            var flush = new Stopwatch();
            double writeSeconds = 0;
            error = Phases.Agree(comm, "closing and flushing the file (fdatasync)", Phases.Run(() =>
            {
                FaultInjection.At("state-written", comm.Rank, step);
                closing!.Dispose();
                FaultInjection.At("closed", comm.Rank, step);
                writeSeconds = write.Elapsed.TotalSeconds;
                flush.Start();
                DurableFiles.FlushFileData(path);
                FaultInjection.At("flushed", comm.Rank, step);
            }));
            timings.WriteSeconds = writeSeconds > 0 ? writeSeconds : write.Elapsed.TotalSeconds;
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
                    Phases.Run(() => File.WriteAllBytes(path, []));
                }

                comm.Barrier();
                if (Phases.Run(() => file.Dispose()) is Exception e)
                {
                    Console.Error.WriteLine($"[coordinated] rank {comm.Rank}: closing the failed snapshot also failed: {e.Message}");
                }
            }
        }
    }

    private static void WriteMetadata(SnapshotFile file, Communicator comm, SnapshotContent owner, long step, string trigger)
    {
        file.WriteAttribute("/", "format", FormatName);
        file.WriteAttribute("/", "format_version", FormatVersion);
        file.WriteAttribute("/", "app", owner.App);
        file.WriteAttribute("/", "step", step);
        file.WriteAttribute("/", "ranks", (long)comm.Size);
        file.WriteAttribute("/", "created_utc", DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
        file.WriteAttribute("/", "trigger", trigger);
        file.WriteAttribute("/", "restart_count", (long)owner.RestartCount);
        file.WriteAttribute("/", "hosts", owner.Hosts);
        file.WriteAttribute("/", "state_names", string.Join(",", owner.Arrays.Select(a => a.Name)));
        file.WriteAttribute("/", "checksum_algorithm", "crc32c");
        file.WriteAttribute("/", "runtime", "Coordinated " + (typeof(SnapshotWriter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?"));
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

    /// <summary>
    /// What must be equal for a file to be rewritten in place with <paramref name="content"/>: every dataset's name,
    /// element type and shape, the checksum rows, and the attribute names. Local (the same on every rank).
    /// </summary>
    internal static string Layout(SnapshotContent content) => string.Join(';',
        content.Arrays.Select(a => $"{a.Name}:{a.TypeName}/{a.TypeClass}/{a.ValueSize}x{a.Components}:{a.GlobalCount}:{ChecksumRowCount(a)}")
            .Concat(content.Parameters.Select(p => "p:" + p.Key))
            .Concat(content.Scalars.Select(s => "s:" + s.Name)));

    private static long ChecksumRowCount(StateArray array)
    {
        long blockElements = Math.Max(1, SnapshotFile.ChecksumBlockBytes / array.ElementBytes);
        return array.Partition.Sum(p => (p.Count + blockElements - 1) / blockElements);
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
}

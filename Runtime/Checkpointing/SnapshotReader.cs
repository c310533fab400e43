using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Coordinated.Mpi;
using static Coordinated.Interop.Hdf5;

namespace Coordinated.Checkpointing;

/// <summary>
/// Reads one snapshot back into the registered state (<see cref="StateRegistry"/>): open, validate against what
/// this run registered, load each rank's slice, verify every checksum row. Collective; every phase is agreed, so a
/// damaged file fails on all ranks together and leaves nothing changed on disk.
/// </summary>
internal static class SnapshotReader
{
    internal sealed record ReadOutcome(string? Error, long Step = 0, long RestartCount = 0, long WriterRanks = 0, long Bytes = 0, double ReadSeconds = 0, double VerifySeconds = 0);

    /// <summary>
    /// Opens, validates, loads and verifies one snapshot into the owner's registered state. On any failure returns
    /// the reason (same on all ranks) and leaves files untouched. Collective.
    /// </summary>
    internal static ReadOutcome TryRead(Communicator comm, string path, StateRegistry owner)
    {
        var read = Stopwatch.StartNew();
        SnapshotFile? file = null;
        string? error = Phases.Agree(comm, null, Phases.Run(() =>
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
            error = Phases.Agree(comm, null, Phases.Run(() => meta = Validate(file!, owner)));
            if (error is not null)
            {
                return new ReadOutcome(error);
            }

            foreach (StateArray array in owner.Arrays)
            {
                error = Phases.Agree(comm, $"reading /state/{array.Name}", Phases.Run(() =>
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
                error = Phases.Agree(comm, null, Phases.Run(() => Verify(file!, array)));
                if (error is not null)
                {
                    return new ReadOutcome(error);
                }
            }

            double verifySeconds = verify.Elapsed.TotalSeconds;
            var closing = file;
            file = null;
            error = Phases.Agree(comm, "closing the file", Phases.Run(() => closing!.Dispose()));
            if (error is not null)
            {
                return new ReadOutcome(error);
            }

            owner.RestoreScalars(meta.Scalars!);

            long bytes = owner.Arrays.Sum(a => a.GlobalCount * a.ElementBytes);
            return new ReadOutcome(null, meta.Step, meta.RestartCount, meta.Ranks, bytes, readSeconds, verifySeconds);
        }
        finally
        {
            if (file is not null)
            {
                Phases.Run(() => file.Dispose());
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

    private static Metadata Validate(SnapshotFile file, StateRegistry owner)
    {
        object? format = file.ReadAttribute("/", "format");
        if (format is not string f || f != SnapshotWriter.FormatName)
        {
            throw new InvalidDataException(format is null
                ? "not a Coordinated checkpoint (no 'format' attribute)"
                : $"not a Coordinated checkpoint (format is '{format}')");
        }

        if (file.ReadAttribute("/", "format_version") is not long version || version < 1)
        {
            throw new InvalidDataException("damaged metadata: no valid 'format_version'");
        }

        if (version > SnapshotWriter.FormatVersion)
        {
            throw new InvalidDataException($"incompatible: format version {version} is newer than this runtime reads ({SnapshotWriter.FormatVersion}); use a newer Coordinated");
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
            if (array is RankStateArray rankState && dims.Length >= 1)
            {
                rankState.PrepareRead((long)dims[0]); // per-rank state: every rank reads all the writer ranks' rows
            }

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
}

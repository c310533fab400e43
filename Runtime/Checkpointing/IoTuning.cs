using System.Globalization;

namespace Coordinated.Checkpointing;

/// <summary>
/// How snapshots are written. The defaults are the measured best on one node (docs/BENCHMARKS.md). For benchmarks
/// and for file systems that behave otherwise, <c>COORDINATED_IO</c> takes a comma-separated list that switches
/// each choice: <c>collective</c>, <c>no-writeback</c>, <c>crc-streams=1</c>, <c>sync-delete</c>,
/// <c>no-recycle</c>, <c>align=BYTES</c>. None of them changes what is written or the commit protocol.
/// <c>COORDINATED_MPIIO_HINTS="key=value;key=value"</c> passes MPI-IO hints (e.g. <c>romio_cb_write=enable</c>,
/// <c>striping_factor=4</c>) to the MPI_Info of every snapshot file opened or created.
/// </summary>
internal sealed record IoTuning
{
    private static IoTuning? s_default;

    /// <summary>The tuning in effect (parsed from <c>COORDINATED_IO</c> on first use; a bad value is a usage error).</summary>
    internal static IoTuning Default => s_default ??= Parse(Environment.GetEnvironmentVariable("COORDINATED_IO")) with
    {
        MpiIoHints = ParseHints(Environment.GetEnvironmentVariable("COORDINATED_MPIIO_HINTS")),
    };

    /// <summary>
    /// Collective (two-phase) transfers for /state and /checksums. Each rank's rows are one contiguous byte range of a contiguous
    /// dataset, so independent writes go straight to the file; collective buffering only adds shuffling on one node.
    /// </summary>
    internal bool CollectiveData { get; init; }

    /// <summary>Start writeback of each rank's rows as soon as they are written (sync_file_range), before the fsync.</summary>
    internal bool StartWriteback { get; init; } = true;

    /// <summary>Checksum blocks computed at once (3: three independent crc32 streams; 1: one after the other).</summary>
    internal int ChecksumStreams { get; init; } = 3;

    /// <summary>
    /// Delete the snapshots that retention drops on a background thread after the commit instead of before
    /// returning (unlinking a 96 MB file costs about 30 ms on ext4 here). The app computes meanwhile; only
    /// back-to-back checkpoints (no computation between them) find the deletion still running.
    /// </summary>
    internal bool DeferDeletion { get; init; } = true;

    /// <summary>
    /// Rewrite a superseded snapshot of the same layout in place instead of creating a new file: the file system
    /// overwrites blocks it has already allocated (no block allocation, no page-cache growth), which costs about
    /// a third less than a new file here. Switched back by <c>no-recycle</c>.
    /// </summary>
    internal bool Recycle { get; init; } = true;

    /// <summary>Objects at least this large start on an <see cref="AlignmentBytes"/> boundary.</summary>
    internal long AlignmentThresholdBytes { get; init; } = 1 << 20;

    /// <summary>File-space alignment of large objects (H5Pset_alignment); 0 = HDF5's default packing.</summary>
    internal long AlignmentBytes { get; init; } = 1 << 20;

    /// <summary>MPI-IO hints for MPI_Info (<c>COORDINATED_MPIIO_HINTS</c>), in the order given.</summary>
    internal IReadOnlyList<(string Key, string Value)> MpiIoHints { get; init; } = [];

    /// <summary>
    /// Parses a <c>COORDINATED_MPIIO_HINTS</c> value: <c>key=value</c> pairs separated by ';'. A key is letters,
    /// digits and '_'; a value is not empty. Anything else is a usage error naming the bad entry.
    /// </summary>
    internal static IReadOnlyList<(string Key, string Value)> ParseHints(string? value)
    {
        var hints = new List<(string, string)>();
        foreach (string entry in (value ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int equals = entry.IndexOf('=', StringComparison.Ordinal);
            string key = equals > 0 ? entry[..equals].Trim() : "";
            string hint = equals > 0 ? entry[(equals + 1)..].Trim() : "";
            if (key.Length == 0 || hint.Length == 0 || !key.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
            {
                throw new UsageException(
                    $"COORDINATED_MPIIO_HINTS: '{entry}' is not key=value (expected e.g. \"romio_cb_write=enable;striping_factor=4\")");
            }

            hints.Add((key, hint));
        }

        return hints;
    }

    /// <summary>Parses a <c>COORDINATED_IO</c> value; unknown words are an error (a typo must not go unnoticed).</summary>
    internal static IoTuning Parse(string? value)
    {
        var tuning = new IoTuning();
        foreach (string word in (value ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            tuning = word switch
            {
                "collective" => tuning with { CollectiveData = true },
                "no-writeback" => tuning with { StartWriteback = false },
                "crc-streams=1" => tuning with { ChecksumStreams = 1 },
                "crc-streams=3" => tuning with { ChecksumStreams = 3 },
                "sync-delete" => tuning with { DeferDeletion = false },
                "no-recycle" => tuning with { Recycle = false },
                _ when word.StartsWith("align=", StringComparison.Ordinal)
                    && long.TryParse(word.AsSpan(6), NumberStyles.None, CultureInfo.InvariantCulture, out long bytes)
                    => tuning with { AlignmentBytes = bytes },
                _ => throw new UsageException(
                    $"COORDINATED_IO: unknown setting '{word}' (known: collective, no-writeback, crc-streams=1, sync-delete, no-recycle, align=BYTES)"),
            };
        }

        return tuning;
    }
}

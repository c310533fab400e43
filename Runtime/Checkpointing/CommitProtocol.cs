using System.Diagnostics;
using Coordinated.Mpi;

namespace Coordinated.Checkpointing;

/// <summary>
/// What one write-and-commit did; the facade turns it into a report, log lines and metrics. <see cref="Level"/> is
/// <c>global</c> (this protocol), or <c>local</c> / <c>local+partner</c> (<see cref="LocalLevel"/>, whose
/// <see cref="File"/> is this node's local file).
/// </summary>
internal sealed record CommitOutcome(
    long Step, Trigger Trigger, string? Failure, SnapshotWriter.WriteTimings Timings, double AgreeSeconds, double? StageSeconds,
    double CommitSeconds, double TotalSeconds, List<string> Removed, string Level = "global", string? File = null);

/// <summary>
/// The one commit protocol, used by periodic checkpoints, stops, asynchronous checkpoints (on the I/O thread) and
/// <c>--output</c>. A file counts only when every step succeeded on every rank:
/// <list type="number">
/// <item>rank 0 prepares: waits for the previous retention, removes a stale temporary, checks the free space;</item>
/// <item>every rank writes its part of the temporary file, closes it and fsyncs it (<see cref="SnapshotWriter"/>);</item>
/// <item>the ranks agree that all of that succeeded;</item>
/// <item>the commit point, rank 0: rename the temporary to its final name, fsync the directory;</item>
/// <item>for a checkpoint: replace <c>latest</c> the same way (temporary, fsync, rename, directory fsync), then
///   retention, which never runs before the new snapshot is durable;</item>
/// <item>rank 0 broadcasts the result. On any failure the temporary (and a renamed file whose rename did not become
///   durable) is deleted and the previous snapshot is untouched.</item>
/// </list>
/// Touches nothing but files (no state of the run), so the I/O thread can run it. Collective over the communicator given.
/// </summary>
internal sealed class CommitProtocol(CheckpointDirectory? directory, string directoryPath, int keep, bool xdmf = false)
{
    private readonly HashSet<string> _replaceOnFirstCommit = new(StringComparer.Ordinal);

    /// <summary>--fresh: snapshots that the first new commit removes (rank 0; others ignore it). Local.</summary>
    internal void ReplaceOnFirstCommit(IEnumerable<string> names) => _replaceOnFirstCommit.UnionWith(names);

    /// <summary>Writes and commits the snapshot of <paramref name="step"/> in the checkpoint directory. Collective.</summary>
    internal CommitOutcome CommitSnapshot(Communicator comm, SnapshotContent content, long step, Trigger trigger, double agreeSeconds, double? stageSeconds)
    {
        var total = Stopwatch.StartNew();
        List<string> removed = [];
        string? failure = Publish(
            comm, content, step, Triggers.Name(trigger),
            Path.Combine(directoryPath, CheckpointDirectory.TemporaryName(step)),
            Path.Combine(directoryPath, CheckpointDirectory.CommittedName(step)),
            checkSpace: true,
            afterRename: () =>
            {
                ReplaceFile(directoryPath, CheckpointDirectory.LatestTemporaryName, CheckpointDirectory.LatestName, CheckpointDirectory.CommittedName(step) + "\n", step);
                FaultInjection.At("latest-written", 0, step);
                removed = directory!.ApplyRetention(step, keep, _replaceOnFirstCommit);
                _replaceOnFirstCommit.Clear();
                if (xdmf) XdmfSidecar.AfterCommit(directoryPath, step, content.Arrays, removed);
            },
            out var timings, out double commitSeconds);
        return new CommitOutcome(step, trigger, failure, timings, agreeSeconds, stageSeconds, commitSeconds,
            total.Elapsed.TotalSeconds + agreeSeconds + (stageSeconds ?? 0), removed);
    }

    /// <summary>
    /// Writes <paramref name="content"/> to <paramref name="path"/> (e.g. the final output) with the same protocol:
    /// temporary <c>.NAME.partial</c> next to it, flushed, renamed, directory flushed. Returns null or what went wrong. Collective.
    /// </summary>
    internal static string? WriteFile(Communicator comm, SnapshotContent content, string path, long step)
    {
        string full = Path.GetFullPath(path);
        string temporary = Path.Combine(Path.GetDirectoryName(full)!, "." + Path.GetFileName(full) + ".partial");
        return Publish(comm, content, step, "output", temporary, full, checkSpace: false, afterRename: null, out _, out _);
    }

    private static string? Publish(
        Communicator comm, SnapshotContent content, long step, string trigger, string temporary, string final, bool checkSpace,
        Action? afterRename, out SnapshotWriter.WriteTimings timings, out double commitSeconds)
    {
        string directory = Path.GetDirectoryName(final)!;
        string? failure = null;
        if (comm.IsRoot)
        {
            try
            {
                Directory.CreateDirectory(directory);
                File.Delete(temporary); // an exclusive create then cannot meet a planted file
                failure = checkSpace ? CheckSpace(directory, content.Bytes, 2 * content.Arrays.Count) : null;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                failure = e.Message;
            }
        }

        failure = comm.Broadcast(failure, 0);
        timings = default;
        failure ??= SnapshotWriter.Write(comm, temporary, content, step, trigger, out timings);

        var commit = Stopwatch.StartNew();
        if (failure is null && comm.IsRoot)
        {
            bool renamed = false;
            try
            {
                File.Move(temporary, final, overwrite: true);
                renamed = true;
                DurableFiles.FlushDirectory(directory, step);
                FaultInjection.At("renamed", 0, step);
                afterRename?.Invoke();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                failure = $"commit ({(renamed ? "after the rename" : "rename")} in {directory}) failed: {e.Message}";
                if (renamed)
                {
                    TryDelete(final); // a rename that is not known to be durable is not a commit
                }
            }
        }

        if (failure is not null && comm.IsRoot)
        {
            failure += DescribeSpace(directory);
            TryDelete(temporary);
        }

        commitSeconds = commit.Elapsed.TotalSeconds;
        return comm.Broadcast(failure, 0);
    }

    /// <summary>Atomically and durably replaces a small file: temporary, fsync, rename, directory fsync. Rank 0.</summary>
    private static void ReplaceFile(string directory, string temporaryName, string name, string text, long step)
    {
        string temporary = Path.Combine(directory, temporaryName);
        File.Delete(temporary);
        using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            stream.Write(System.Text.Encoding.UTF8.GetBytes(text));
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, Path.Combine(directory, name), overwrite: true);
        DurableFiles.FlushDirectory(directory, step);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Rank 0's check that the snapshot fits before anything is written; null when it does (or cannot be known).</summary>
    private static string? CheckSpace(string directory, long bytes, int datasets)
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
                : $"not enough space in {directory}: {RuntimeLog.FormatBytes(free)} free, the snapshot needs about {RuntimeLog.FormatBytes(needed)} (No space left on device)";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>" [DIR: X free of Y]" so that a failed write says whether the disk is full; empty if unknown.</summary>
    private static string DescribeSpace(string directory)
    {
        try
        {
            var drive = new DriveInfo(directory);
            return $" [{directory}: {RuntimeLog.FormatBytes(drive.AvailableFreeSpace)} free of {RuntimeLog.FormatBytes(drive.TotalSize)}]";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return "";
        }
    }}

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
/// <item>rank 0 prepares: waits for the previous commit's background work, removes a stale temporary, takes the
///   recycled superseded snapshot if it has this content's layout (renamed to the temporary name), checks the free space;</item>
/// <item>every rank writes its part of the temporary file (a new file, or the recycled one overwritten in place),
///   closes it and flushes it (<see cref="SnapshotWriter"/>);</item>
/// <item>the ranks agree that all of that succeeded;</item>
/// <item>the commit point, rank 0: rename the temporary to its final name, fsync the directory;</item>
/// <item>for a checkpoint, on a background thread (<see cref="CheckpointDirectory.ApplyRetention"/>): the advisory
///   <c>latest</c>, then retention, which never runs before the new snapshot is durable;</item>
/// <item>rank 0 broadcasts the result. On any failure the temporary (and a renamed file whose rename did not become
///   durable) is deleted and the previous snapshot is untouched. A failed rewrite of a recycled file is retried once
///   as a new file.</item>
/// </list>
/// Touches nothing but files (no state of the run), so the I/O thread can run it. Collective over the communicator given.
/// </summary>
internal sealed class CommitProtocol(CheckpointDirectory? directory, string directoryPath, int keep, bool xdmf = false)
{
    private readonly HashSet<string> _replaceOnFirstCommit = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _layouts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _newFileLength = new(StringComparer.Ordinal);

    /// <summary>--fresh: snapshots that the first new commit removes (rank 0; others ignore it). Local.</summary>
    internal void ReplaceOnFirstCommit(IEnumerable<string> names) => _replaceOnFirstCommit.UnionWith(names);

    /// <summary>Writes and commits the snapshot of <paramref name="step"/> in the checkpoint directory. Collective.</summary>
    internal CommitOutcome CommitSnapshot(Communicator comm, SnapshotContent content, long step, Trigger trigger, double agreeSeconds, double? stageSeconds)
    {
        var total = Stopwatch.StartNew();
        List<string> removed = [];
        string name = CheckpointDirectory.CommittedName(step);
        string layout = SnapshotWriter.Layout(content);
        string? failure = Publish(
            comm, content, step, Triggers.Name(trigger),
            Path.Combine(directoryPath, CheckpointDirectory.TemporaryName(step)),
            Path.Combine(directoryPath, name),
            checkSpace: true,
            recycle: temporary => _newFileLength.TryGetValue(layout, out long length)
                ? directory!.TakeRecycled(layout, temporary, length + Math.Max(256 << 10, content.Bytes / 64))
                : 0,
            afterRename: () =>
            {
                _layouts[name] = layout;
                if (!_newFileLength.ContainsKey(layout))
                {
                    _newFileLength[layout] = new FileInfo(Path.Combine(directoryPath, name)).Length; // the first file of a layout is always new
                }

                removed = directory!.ApplyRetention(step, keep, _replaceOnFirstCommit, _layouts.GetValueOrDefault);
                _replaceOnFirstCommit.Clear();
                foreach (string gone in removed)
                {
                    _layouts.Remove(gone);
                }

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
        return Publish(comm, content, step, "output", temporary, full, checkSpace: false, recycle: null, afterRename: null, out _, out _);
    }

    private static string? Publish(
        Communicator comm, SnapshotContent content, long step, string trigger, string temporary, string final, bool checkSpace,
        Func<string, long>? recycle, Action? afterRename, out SnapshotWriter.WriteTimings timings, out double commitSeconds)
    {
        string directory = Path.GetDirectoryName(final)!;
        string? failure = null;
        long recycled = 0;
        if (comm.IsRoot)
        {
            try
            {
                Directory.CreateDirectory(directory);
                File.Delete(temporary); // an exclusive create then cannot meet a planted file
                recycled = recycle?.Invoke(temporary) ?? 0; // a rename over the temporary name: nothing planted is followed
                failure = checkSpace ? CheckSpace(directory, content.Bytes - recycled, 2 * content.Arrays.Count) : null;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                failure = e.Message;
            }
        }

        // One broadcast: 0 = write a new file, 1 = rewrite the recycled one, -1 = failed (the reason follows).
        int plan = failure is not null ? -1 : recycled > 0 ? 1 : 0;
        comm.Broadcast(new Span<int>(ref plan), 0);
        failure = plan < 0 ? comm.Broadcast(failure, 0) : null;
        timings = default;
        if (plan == 1)
        {
            failure = SnapshotWriter.Write(comm, temporary, content, step, trigger, out timings, rewrite: true);
            if (failure is not null)
            {
                if (comm.IsRoot)
                {
                    Console.Error.WriteLine($"[coordinated] note: rewriting a recycled snapshot file failed ({failure}); writing a new file instead");
                    TryDelete(temporary);
                }

                plan = 0;
            }
        }

        if (plan == 0)
        {
            failure = SnapshotWriter.Write(comm, temporary, content, step, trigger, out timings);
        }

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

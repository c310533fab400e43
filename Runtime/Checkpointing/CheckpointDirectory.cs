using System.Globalization;
using System.Text.RegularExpressions;

namespace Coordinated.Checkpointing;

/// <summary>
/// The checkpoint directory, run by rank 0 only: the lock, the names, the list of committed snapshots, leftovers,
/// request files and retention (the commit itself is <see cref="CommitProtocol"/>). Names: committed snapshots <c>ckpt-&lt;step:D9&gt;.h5</c>, in-progress <c>.ckpt-&lt;step&gt;.h5.partial</c>,
/// a superseded snapshot kept for rewriting <c>.ckpt-recycle.h5</c>, the pointer <c>latest</c>, the lock
/// <c>.coordinated.lock</c> and its owner note <c>.coordinated.owner</c>. Nothing else in the directory is ever touched.
/// </summary>
internal sealed partial class CheckpointDirectory : IDisposable
{
    internal const string LatestName = "latest";
    internal const string LatestTemporaryName = ".latest.tmp";
    internal const string RecycleName = ".ckpt-recycle.h5";
    internal const string LockName = ".coordinated.lock";
    internal const string OwnerName = ".coordinated.owner";
    internal const string CheckpointRequestName = "checkpoint-now";
    internal const string StopRequestName = "stop-now";

    private FileStream? _lock;
    private Task _deletion = Task.CompletedTask;
    private string? _recycleLayout;

    private CheckpointDirectory(string path)
    {
        Path = path;
    }

    internal string Path { get; }

    [GeneratedRegex(@"^ckpt-(\d{9,})\.h5$")]
    private static partial Regex CommittedPattern();

    [GeneratedRegex(@"^\.ckpt-(\d{9,})\.h5\.partial$|^\.latest\.tmp$|^\.ckpt-recycle\.h5$")]
    private static partial Regex LeftoverPattern();

    internal static string CommittedName(long step) => $"ckpt-{step.ToString("D9", CultureInfo.InvariantCulture)}.h5";

    /// <summary>The step in a committed snapshot's name, or null for another name.</summary>
    internal static long? StepOf(string name) =>
        CommittedPattern().Match(name) is { Success: true } m && long.TryParse(m.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out long step) ? step : null;

    internal static string TemporaryName(long step) => $".ckpt-{step.ToString("D9", CultureInfo.InvariantCulture)}.h5.partial";

    /// <summary>
    /// Rank 0 opens the directory (<see cref="Open"/>) and removes leftovers of a killed run; every rank learns the
    /// outcome and the full path. Collective; throws the same <see cref="CoordinatedException"/> on every rank.
    /// </summary>
    internal static (CheckpointDirectory? Directory, string Path, List<string> Removed) OpenOnRoot(Mpi.Communicator comm, string path, string app)
    {
        CheckpointDirectory? directory = null;
        string? error = null;
        int exitCode = ExitCodes.CannotUseDirectory;
        List<string> removed = [];
        if (comm.IsRoot)
        {
            try
            {
                directory = Open(path, app);
                removed = directory.RemoveLeftovers();
            }
            catch (CoordinatedException e)
            {
                directory?.Dispose();
                directory = null;
                error = e.Message;
                exitCode = e.ExitCode;
            }
        }

        error = comm.Broadcast(error, 0);
        if (error is not null)
        {
            throw new CoordinatedException(error, exitCode, isCollective: true);
        }

        return (directory, comm.Broadcast(comm.IsRoot ? directory!.Path : null, 0)!, removed);
    }

    /// <summary>
    /// Creates the directory if needed, checks it is writable, takes the lock and removes leftovers of a killed run.
    /// Throws <see cref="CoordinatedException"/> (exit 73) with what went wrong and what to do.
    /// </summary>
    internal static CheckpointDirectory Open(string path, string app)
    {
        string full = System.IO.Path.GetFullPath(path);
        try
        {
            Directory.CreateDirectory(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Unusable($"cannot create checkpoint directory '{full}': {e.Message}", "choose a writable --checkpoint-dir");
        }

        string probe = System.IO.Path.Combine(full, $".coordinated.probe-{Environment.ProcessId}");
        try
        {
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
            }

            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Unusable($"checkpoint directory '{full}' is not writable: {e.Message}", "fix its permissions or choose another --checkpoint-dir");
        }

        var directory = new CheckpointDirectory(full);
        try
        {
            directory.TakeLock(app);
            return directory;
        }
        catch
        {
            directory.Dispose();
            throw;
        }
    }

    private void TakeLock(string app)
    {
        string lockPath = System.IO.Path.Combine(Path, LockName);
        string ownerPath = System.IO.Path.Combine(Path, OwnerName);
        try
        {
            // FileShare.None takes an exclusive flock(2); the kernel drops it when the process dies, even by SIGKILL.
            _lock = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            string owner = "unknown (no owner note)";
            try
            {
                owner = File.ReadAllText(ownerPath).Trim();
            }
            catch (IOException)
            {
            }

            throw Unusable(
                $"checkpoint directory '{Path}' is in use by another run: {owner}",
                "wait for that run to end, or give this run its own --checkpoint-dir");
        }

        string note = $"{app} pid {Environment.ProcessId} on {Environment.MachineName}{Slurm.SlurmJob.OwnerSuffix}, started {DateTime.UtcNow:yyyy-MM-ddTHH:mm:ssZ}";
        string tmp = ownerPath + ".tmp";
        File.Delete(tmp);
        File.WriteAllText(tmp, note + "\n");
        File.Move(tmp, ownerPath, overwrite: true);
    }

    /// <summary>Deletes temporary files left by a run that was killed while writing.</summary>
    internal List<string> RemoveLeftovers()
    {
        var removed = new List<string>();
        foreach (string file in Directory.EnumerateFiles(Path))
        {
            string name = System.IO.Path.GetFileName(file);
            if (LeftoverPattern().IsMatch(name))
            {
                File.Delete(file);
                removed.Add(name);
            }
        }

        return removed;
    }

    /// <summary>Committed snapshots, newest step first. Symlinks and other non-regular files are ignored (with a note).</summary>
    internal List<(long Step, string Name)> ListCommitted(List<string>? notes = null)
    {
        var result = new List<(long, string)>();
        foreach (var info in new DirectoryInfo(Path).EnumerateFileSystemInfos("ckpt-*.h5"))
        {
            Match m = CommittedPattern().Match(info.Name);
            if (!m.Success)
            {
                continue;
            }

            if (info.LinkTarget is not null || info is not FileInfo)
            {
                notes?.Add($"ignoring {info.Name}: not a regular file (a symlink or directory was not written by this runtime)");
                continue;
            }

            result.Add((long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), info.Name));
        }

        result.Sort((a, b) => b.Item1.CompareTo(a.Item1));
        return result;
    }

    /// <summary>The name <c>latest</c> points at, or null.</summary>
    internal string? ReadLatest()
    {
        string path = System.IO.Path.Combine(Path, LatestName);
        try
        {
            return new FileInfo(path).LinkTarget is null ? File.ReadAllText(path).Trim() : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// Everything after the commit point, run only once the snapshot of <paramref name="step"/> is durable, on a
    /// background thread (the app computes meanwhile; the next commit and Dispose wait for it):
    /// <list type="number">
    /// <item>the advisory pointer <c>latest</c> is replaced (temporary, fsync, rename); restart never relies on it;</item>
    /// <item>retention: the committed snapshots beyond the newest <paramref name="keep"/>, and <paramref name="alsoDelete"/>
    ///   (--fresh), go. The newest of them whose layout <paramref name="layoutOf"/> knows (one this run wrote) is renamed
    ///   to <see cref="RecycleName"/> for the next checkpoint to overwrite in place (<see cref="TakeRecycled"/>); the
    ///   rest are deleted (unlinking a 96 MB file costs about 30 ms on ext4 here);</item>
    /// <item>one fsync of the directory, so that the recycled file's old name is durably gone before any of its bytes is
    ///   overwritten (a crash can then never show a half-overwritten file under a committed name). If that fsync
    ///   fails, the recycled file is deleted instead.</item>
    /// </list>
    /// With <c>COORDINATED_IO=sync-delete</c> all of it runs before returning. Returns the names removed (recycled
    /// included: that snapshot is gone).
    /// </summary>
    internal List<string> ApplyRetention(long step, int keep, ISet<string> alsoDelete, Func<string, string?>? layoutOf = null)
    {
        WaitForDeletions();
        var removed = new List<string>();
        foreach (var (s, name) in ListCommitted().Skip(keep))
        {
            if (s != step)
            {
                removed.Add(name);
            }
        }

        foreach (string name in alsoDelete)
        {
            if (name != CommittedName(step) && !removed.Contains(name) && File.Exists(System.IO.Path.Combine(Path, name)))
            {
                removed.Add(name);
            }
        }

        string? recycle = IoTuning.Default.Recycle && layoutOf is not null ? removed.FirstOrDefault(n => layoutOf(n) is not null) : null;
        string? layout = recycle is null ? null : layoutOf!(recycle);
        var delete = removed.Where(n => n != recycle).ToList();
        if (IoTuning.Default.DeferDeletion)
        {
            _deletion = Task.Run(() => AfterCommit(step, delete, recycle, layout));
        }
        else
        {
            AfterCommit(step, delete, recycle, layout);
        }

        return removed;
    }

    /// <summary>
    /// Rank 0, before the next snapshot is written: if the recycled file has exactly <paramref name="layout"/> and is
    /// at most <paramref name="maxLength"/> bytes long, it is renamed to <paramref name="temporary"/> and its size
    /// returned (the caller then overwrites it in place); otherwise 0, and a recycled file that cannot be used is
    /// deleted in the background. (Each rewrite adds a few KiB to the file: HDF5 never reuses the global-heap space
    /// of replaced string attributes, so a file is rewritten only until it has grown by the allowance.)
    /// </summary>
    internal long TakeRecycled(string layout, string temporary, long maxLength)
    {
        WaitForDeletions();
        string path = System.IO.Path.Combine(Path, RecycleName);
        var info = new FileInfo(path);
        if (_recycleLayout is null || !info.Exists || info.LinkTarget is not null)
        {
            return 0;
        }

        if (_recycleLayout != layout || info.Length > maxLength)
        {
            _recycleLayout = null;
            _deletion = Task.Run(() => Delete([RecycleName]));
            return 0;
        }

        _recycleLayout = null;
        File.Move(path, temporary, overwrite: true);
        return info.Length;
    }

    /// <summary>Waits for the work after the previous commit (<see cref="ApplyRetention"/>).</summary>
    internal void WaitForDeletions() => _deletion.Wait();

    private void AfterCommit(long step, List<string> delete, string? recycle, string? layout)
    {
        try
        {
            ReplaceLatest(CommittedName(step));
            FaultInjection.At("latest-written", 0, step);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"[coordinated] warning: could not update the advisory pointer {System.IO.Path.Combine(Path, LatestName)}: {e.Message} (restart does not need it)");
        }

        if (recycle is not null)
        {
            try
            {
                File.Move(System.IO.Path.Combine(Path, recycle), System.IO.Path.Combine(Path, RecycleName), overwrite: true);
                _recycleLayout = layout;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                delete.Add(recycle);
            }
        }

        Delete(delete);
        try
        {
            DurableFiles.FlushDirectory(Path, step, faultPoint: null);
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"[coordinated] warning: {e.Message}; not recycling the superseded snapshot");
            if (_recycleLayout is not null)
            {
                _recycleLayout = null;
                Delete([RecycleName]);
            }
        }
    }

    /// <summary>Replaces <c>latest</c> atomically: temporary, fsync, rename (the directory fsync follows in <see cref="AfterCommit"/>).</summary>
    private void ReplaceLatest(string text)
    {
        string temporary = System.IO.Path.Combine(Path, LatestTemporaryName);
        File.Delete(temporary);
        using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            stream.Write(System.Text.Encoding.UTF8.GetBytes(text + "\n"));
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, System.IO.Path.Combine(Path, LatestName), overwrite: true);
    }

    private void Delete(List<string> names)
    {
        foreach (string name in names)
        {
            try
            {
                File.Delete(System.IO.Path.Combine(Path, name));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The new snapshot is committed whatever happens here; an old one left behind is retried next time.
                Console.Error.WriteLine($"[coordinated] warning: could not delete old snapshot {name} in {Path}: {e.Message}");
            }
        }
    }

    /// <summary>Consumes a request file (<c>checkpoint-now</c> or <c>stop-now</c>) if present.</summary>
    internal bool TakeRequest(string name)
    {
        string path = System.IO.Path.Combine(Path, name);
        if (!File.Exists(path))
        {
            return false;
        }

        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return true;
    }

    private static CoordinatedException Unusable(string what, string todo) =>
        new($"{what}. What to do: {todo}.", ExitCodes.CannotUseDirectory, isCollective: true);

    public void Dispose()
    {
        WaitForDeletions();
        if (_lock is not null)
        {
            if (_recycleLayout is not null)
            {
                _recycleLayout = null;
                Delete([RecycleName]); // the run is over: nothing left to rewrite
            }

            try
            {
                File.Delete(System.IO.Path.Combine(Path, OwnerName));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }

            _lock.Dispose();
            _lock = null;
        }
    }
}

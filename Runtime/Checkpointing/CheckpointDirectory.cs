using System.Globalization;
using System.Text.RegularExpressions;

namespace Coordinated.Checkpointing;

/// <summary>
/// The checkpoint directory, run by rank 0 only: the lock, the names, the list of committed snapshots, leftovers,
/// request files and retention (the commit itself is <see cref="CommitProtocol"/>). Names: committed snapshots <c>ckpt-&lt;step:D9&gt;.h5</c>, in-progress <c>.ckpt-&lt;step&gt;.h5.partial</c>,
/// the pointer <c>latest</c>, the lock <c>.coordinated.lock</c> and its owner note <c>.coordinated.owner</c>.
/// Nothing else in the directory is ever touched.
/// </summary>
internal sealed partial class CheckpointDirectory : IDisposable
{
    internal const string LatestName = "latest";
    internal const string LatestTemporaryName = ".latest.tmp";
    internal const string LockName = ".coordinated.lock";
    internal const string OwnerName = ".coordinated.owner";
    internal const string CheckpointRequestName = "checkpoint-now";
    internal const string StopRequestName = "stop-now";

    private FileStream? _lock;
    private Task _deletion = Task.CompletedTask;

    private CheckpointDirectory(string path)
    {
        Path = path;
    }

    internal string Path { get; }

    [GeneratedRegex(@"^ckpt-(\d{9,})\.h5$")]
    private static partial Regex CommittedPattern();

    [GeneratedRegex(@"^\.ckpt-(\d{9,})\.h5\.partial$|^\.latest\.tmp$")]
    private static partial Regex LeftoverPattern();

    internal static string CommittedName(long step) => $"ckpt-{step.ToString("D9", CultureInfo.InvariantCulture)}.h5";

    internal static string TemporaryName(long step) => $".ckpt-{step.ToString("D9", CultureInfo.InvariantCulture)}.h5.partial";

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
    /// Retention, run only after the snapshot of <paramref name="step"/> is durable: the committed snapshots beyond
    /// the newest <paramref name="keep"/>, and <paramref name="alsoDelete"/> (--fresh), are deleted on a background
    /// thread (IoTuning.DeferDeletion), so the app need not wait for the unlink. The next commit and Dispose wait
    /// for it, so deletions never overlap. Returns the names removed.
    /// </summary>
    internal List<string> ApplyRetention(long step, int keep, ISet<string> alsoDelete)
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

        if (IoTuning.Default.DeferDeletion)
        {
            _deletion = Task.Run(() => Delete(removed));
        }
        else
        {
            Delete(removed);
        }

        return removed;
    }

    /// <summary>Waits for the retention deletions of the previous commit.</summary>
    internal void WaitForDeletions() => _deletion.Wait();

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

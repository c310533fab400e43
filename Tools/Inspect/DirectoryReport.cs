using System.Globalization;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace Coordinated.Inspect;

/// <summary>One committed snapshot as <c>inspect DIR</c> shows it.</summary>
internal sealed record SnapshotRow
{
    public required string File { get; init; }

    public long? Step { get; init; }

    [JsonPropertyName("created_utc")]
    public string? CreatedUtc { get; init; }

    public string? App { get; init; }

    public long? Ranks { get; init; }

    public IReadOnlyList<string>? Hosts { get; init; }

    public long Bytes { get; init; }

    public string? Trigger { get; init; }

    /// <summary>
    /// Where the snapshot lives: <c>global</c> (the shared checkpoint directory) today; node-local and partner copies
    /// will show as <c>local</c> and <c>partner</c> once multi-level checkpointing exists.
    /// </summary>
    public string Level { get; init; } = "global";

    [JsonPropertyName("restart_count")]
    public long? RestartCount { get; init; }

    public bool Latest { get; init; }

    public bool Verifies { get; init; }

    public IReadOnlyList<string> Problems { get; init; } = [];
}

/// <summary>What a restart in this directory would do.</summary>
/// <param name="File">The snapshot it would resume from, or null (start at step 0).</param>
/// <param name="Reason">Why.</param>
/// <param name="Skipped">Newer snapshots it would skip, each with why.</param>
internal sealed record RestartChoice(string? File, string Reason, IReadOnlyList<string> Skipped);

/// <summary>The whole of <c>inspect DIR</c>: snapshots, leftovers, the lock, the restart choice, app parameters.</summary>
internal sealed partial record DirectoryReport
{
    public required string Directory { get; init; }

    public required IReadOnlyList<SnapshotRow> Snapshots { get; init; }

    public string? Latest { get; init; }

    [JsonPropertyName("latest_note")]
    public string? LatestNote { get; init; }

    public required IReadOnlyList<string> Leftovers { get; init; }

    public required IReadOnlyList<string> Ignored { get; init; }

    /// <summary>The owner note of the run holding the directory's lock now, or null when none does.</summary>
    [JsonPropertyName("in_use_by")]
    public string? InUseBy { get; init; }

    public required RestartChoice Restart { get; init; }

    /// <summary>App parameters (<c>/params</c>) of the snapshot a restart would pick (else the newest).</summary>
    public IReadOnlyDictionary<string, object>? Parameters { get; init; }

    public IReadOnlyDictionary<string, object>? Scalars { get; init; }

    [JsonPropertyName("metrics_lines")]
    public int MetricsLines { get; init; }

    [GeneratedRegex(@"^\.ckpt-(\d{9,})\.h5\.partial$|^\.latest\.tmp$|^ckpt-\d{9,}\.xdmf\.tmp$|^\.ckpt-recycle\.h5$")]
    private static partial Regex LeftoverPattern();

    /// <summary>Scans <paramref name="directory"/>: reads and verifies every committed snapshot.</summary>
    internal static DirectoryReport Scan(string directory)
    {
        string full = Path.GetFullPath(directory);
        string? inUseBy = LockHolder(full);
        var committed = new List<(long Step, string Name)>();
        var leftovers = new List<string>();
        var ignored = new List<string>();
        foreach (var info in new DirectoryInfo(full).EnumerateFileSystemInfos())
        {
            Match m = Verifier.CommittedPattern().Match(info.Name);
            if (m.Success)
            {
                if (info.LinkTarget is not null || info is not FileInfo)
                {
                    ignored.Add($"{info.Name}: not a regular file; a restart ignores it");
                }
                else
                {
                    committed.Add((long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), info.Name));
                }
            }
            else if (LeftoverPattern().IsMatch(info.Name))
            {
                // A live run's temporary file may be renamed or removed under us: report it as it was listed.
                bool recycled = info.Name == ".ckpt-recycle.h5"; // a superseded snapshot the next checkpoint overwrites
                leftovers.Add(inUseBy is null
                    ? $"{info.Name} ({info.LastWriteTimeUtc:yyyy-MM-dd HH:mm:ss}Z): left by a run killed {(recycled ? "between checkpoints" : "while writing")}; the next start removes it"
                    : recycled
                        ? $"{info.Name}: a superseded snapshot that the next checkpoint of the run holding the directory rewrites"
                        : $"{info.Name}: being written by the run that holds the directory");
            }
        }

        committed.Sort((a, b) => b.Step.CompareTo(a.Step));
        string? latest = ReadLatest(full);
        string? latestNote = latest switch
        {
            null => committed.Count > 0 ? "no 'latest' file (a restart scans the directory anyway)" : null,
            _ when committed.Count == 0 => $"'latest' names {latest}, but there is no committed snapshot",
            _ when committed.All(c => c.Name != latest) => $"'latest' names {latest}, which does not exist; a restart ignores it",
            _ when committed[0].Name != latest => $"'latest' names {latest}, but {committed[0].Name} is newer and committed; a restart uses the newest",
            _ => null,
        };

        var rows = new List<SnapshotRow>();
        IReadOnlyDictionary<string, object>? parameters = null, scalars = null, newestParameters = null, newestScalars = null;
        string? pick = null;
        var skipped = new List<string>();
        foreach (var (_, name) in committed)
        {
            string path = Path.Combine(full, name);
            SnapshotRow row;
            string? firstProblem;
            try
            {
                using var snapshot = Snapshot.Open(path);
                var problems = Verifier.Verify(snapshot);
                if (problems.Count > 0 && Verifier.RecycledWhileRead(path))
                {
                    throw new SnapshotException($"{path} was deleted or recycled while inspect read it (a running run's retention)") { Vanished = true };
                }

                row = new SnapshotRow
                {
                    File = name,
                    Step = snapshot.Step,
                    CreatedUtc = snapshot.CreatedUtc,
                    App = snapshot.App,
                    Ranks = snapshot.Ranks,
                    Hosts = snapshot.Hosts,
                    Bytes = snapshot.Size,
                    Trigger = snapshot.Trigger,
                    RestartCount = snapshot.RestartCount,
                    Latest = name == latest,
                    Verifies = problems.Count == 0,
                    Problems = problems.Select(p => p.ToString()).ToList(),
                };
                firstProblem = problems.FirstOrDefault()?.Describe();
                newestParameters ??= snapshot.Parameters;
                newestScalars ??= snapshot.Scalars;
                if (pick is null && row.Verifies)
                {
                    pick = name;
                    parameters = snapshot.Parameters;
                    scalars = snapshot.Scalars;
                }
            }
            catch (SnapshotException e) when (e.Vanished || Verifier.RecycledWhileRead(path))
            {
                ignored.Add($"{name}: deleted or recycled while inspect read the directory (retention of a running run)");
                continue;
            }
            catch (SnapshotException e)
            {
                row = new SnapshotRow { File = name, Bytes = SizeOrZero(path), Latest = name == latest, Problems = [e.Message] };
                firstProblem = e.Message;
            }

            if (pick is null && !row.Verifies)
            {
                skipped.Add($"{name}: {firstProblem}" + (row.Problems.Count > 1 ? $" (and {row.Problems.Count - 1} more)" : ""));
            }

            rows.Add(row);
        }

        string reason = pick switch
        {
            null when committed.Count == 0 => "no committed snapshot: a run starts at step 0",
            null => $"none of the {committed.Count} snapshot(s) verifies: a run refuses to start (exit 65) and changes nothing; move them away or use --fresh",
            _ when skipped.Count == 0 => $"the newest committed snapshot, and it verifies (step {rows.First(r => r.File == pick).Step}); a run resumes there if its app and parameters match",
            _ => $"the newest committed snapshot that verifies (step {rows.First(r => r.File == pick).Step}); {skipped.Count} newer one(s) would be skipped",
        };

        int metricsLines = 0;
        string metrics = Path.Combine(full, "metrics.jsonl");
        if (File.Exists(metrics))
        {
            metricsLines = File.ReadLines(metrics).Count(l => l.Length > 0);
        }

        return new DirectoryReport
        {
            Directory = full,
            Snapshots = rows,
            Latest = latest,
            LatestNote = latestNote,
            Leftovers = leftovers,
            Ignored = ignored,
            InUseBy = inUseBy,
            Restart = new RestartChoice(pick, reason, skipped),
            Parameters = parameters ?? newestParameters,
            Scalars = scalars ?? newestScalars,
            MetricsLines = metricsLines,
        };
    }

    private static long SizeOrZero(string path)
    {
        try
        {
            return new FileInfo(path).Length;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static string? ReadLatest(string directory)
    {
        string path = Path.Combine(directory, "latest");
        try
        {
            return File.Exists(path) && new FileInfo(path).LinkTarget is null ? File.ReadAllText(path).Trim() : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// The owner note when a run holds <c>.coordinated.lock</c> (an exclusive flock), else null. Probes with a shared
    /// lock that is released at once, so it never holds the directory for longer than the probe.
    /// </summary>
    private static string? LockHolder(string directory)
    {
        string lockPath = Path.Combine(directory, ".coordinated.lock");
        if (!File.Exists(lockPath))
        {
            return null;
        }

        try
        {
            using (new FileStream(lockPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
            {
            }

            return null;
        }
        catch (IOException)
        {
            string owner = Path.Combine(directory, ".coordinated.owner");
            return File.Exists(owner) ? File.ReadAllText(owner).Trim() : "a run (no owner note)";
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}

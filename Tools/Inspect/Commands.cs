using System.Globalization;
using Coordinated.Checkpointing;

namespace Coordinated.Inspect;

/// <summary>The subcommands. Each returns the process exit code and writes to <see cref="Output"/>.</summary>
internal static class Commands
{
    private static readonly string[] s_subcommands = ["verify", "diff", "metrics", "export"];

    /// <summary><c>inspect DIR</c>: the table, leftovers, restart choice and parameters.</summary>
    internal static int Directory(Output output, string? directory, bool json)
    {
        if (directory is null)
        {
            throw new UsageException("give a checkpoint directory (inspect DIR) or a subcommand: " + string.Join(", ", s_subcommands) + " (inspect --help)");
        }

        RequireDirectory(directory, unknownSubcommand: true);
        DirectoryReport report = DirectoryReport.Scan(directory);
        if (json)
        {
            output.WriteJson(report);
            return ExitCodes.Success;
        }

        output.Heading($"{report.Directory}: {report.Snapshots.Count} committed snapshot(s)");
        if (report.Snapshots.Count == 0 && report.MetricsLines == 0 && report.Leftovers.Count == 0 && report.InUseBy is null)
        {
            output.Marked("", "note", Tone.Note, ": no snapshot, no metrics.jsonl, no lock: is this a checkpoint directory (--checkpoint-dir)?");
        }

        if (report.Snapshots.Count > 0)
        {
            output.Table(
                ["step", "created (UTC)", "app", "ranks", "size", "trigger", "level", "latest", "verifies"],
                report.Snapshots.Select(s => (IReadOnlyList<(string, Tone)>)
                [
                    (s.Step?.ToString(CultureInfo.InvariantCulture) ?? "?", Tone.Plain),
                    (FormatTime(s.CreatedUtc), Tone.Plain),
                    (s.App ?? "?", Tone.Plain),
                    (FormatRanks(s.Ranks, s.Hosts), Tone.Plain),
                    (Units.Bytes(s.Bytes), Tone.Plain),
                    (s.Trigger ?? "?", Tone.Plain),
                    (s.Level, Tone.Plain),
                    (s.Latest ? "latest" : "", Tone.Plain),
                    (s.Verifies ? "yes" : "NO", s.Verifies ? Tone.Good : Tone.Bad),
                ]),
                rightAligned: new HashSet<int> { 0, 4 });
        }

        foreach (SnapshotRow bad in report.Snapshots.Where(s => !s.Verifies))
        {
            foreach (string problem in bad.Problems)
            {
                output.Marked("  ", "damaged", Tone.Bad, $": {problem}");
            }
        }

        if (report.Snapshots.FirstOrDefault(s => s.Hosts is not null) is { } withHosts)
        {
            output.Line($"hosts ({withHosts.File}, rank order): {string.Join(", ", withHosts.Hosts!)}");
        }

        if (report.LatestNote is not null)
        {
            output.Marked("", "note", Tone.Note, $": {report.LatestNote}");
        }

        output.Line();
        output.Heading("restart");
        if (report.Restart.File is not null)
        {
            output.Marked("  would resume from ", report.Restart.File, Tone.Good, $": {report.Restart.Reason}");
        }
        else
        {
            output.Marked("  ", report.Snapshots.Count == 0 ? "fresh start" : "refuses to start", report.Snapshots.Count == 0 ? Tone.Note : Tone.Bad, $": {report.Restart.Reason}");
        }

        foreach (string skipped in report.Restart.Skipped)
        {
            output.Line($"  would skip {skipped}");
        }

        if (report.InUseBy is not null)
        {
            output.Marked("  ", "in use", Tone.Note, $": a run holds this directory now: {report.InUseBy}");
        }

        output.Line();
        output.Heading("leftovers");
        if (report.Leftovers.Count == 0 && report.Ignored.Count == 0)
        {
            output.Line("  none");
        }

        foreach (string leftover in report.Leftovers.Concat(report.Ignored))
        {
            output.Line($"  {leftover}");
        }

        if (report.Parameters is { Count: > 0 } parameters)
        {
            output.Line();
            output.Heading($"parameters (/params of {report.Restart.File ?? report.Snapshots[0].File}; a restart needs the same)");
            foreach (var (key, value) in parameters.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                output.Line($"  {key} = {Format(value)}");
            }
        }

        if (report.Scalars is { Count: > 0 } scalars)
        {
            output.Heading("scalars");
            foreach (var (key, value) in scalars.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                output.Line($"  {key} = {Format(value)}");
            }
        }

        if (report.MetricsLines > 0)
        {
            output.Line();
            output.Line($"metrics.jsonl: {report.MetricsLines} event(s); see 'inspect metrics {directory}'");
        }

        return ExitCodes.Success;
    }

    /// <summary><c>inspect verify DIR|FILE</c>.</summary>
    internal static int Verify(Output output, string path, bool json)
    {
        List<string> files;
        if (System.IO.Directory.Exists(path))
        {
            files = CommittedSnapshots(path);
            if (files.Count == 0)
            {
                throw new SnapshotException($"{path} holds no committed snapshot (ckpt-<step>.h5): nothing to verify");
            }
        }
        else if (File.Exists(path))
        {
            using (Snapshot.Open(path))
            {
                // Refuses a file that is not a snapshot at all (exit 64) before reporting damage.
            }

            files = [path];
        }
        else
        {
            throw new UsageException($"{path} does not exist: give a checkpoint directory or a ckpt-<step>.h5 file");
        }

        var results = new List<(string File, List<Problem> Problems)>();
        foreach (string file in files)
        {
            if (Verifier.Verify(file) is { } problems)
            {
                results.Add((Path.GetFileName(file), problems));
            }
            else if (!json)
            {
                output.Line($"{Path.GetFileName(file)}: deleted or recycled while inspect read the directory (retention of a running run); skipped");
            }
        }

        bool ok = results.All(r => r.Problems.Count == 0);
        if (json)
        {
            output.WriteJson(new
            {
                ok,
                snapshots = results.Select(r => new
                {
                    file = r.File,
                    verifies = r.Problems.Count == 0,
                    problems = r.Problems.Select(p => new { dataset = p.Dataset, first = p.First, end = p.End, message = p.Message }),
                }),
            });
        }
        else
        {
            foreach (var (file, problems) in results)
            {
                if (problems.Count == 0)
                {
                    output.Marked($"{file}: ", "ok", Tone.Good, " (every checksum and invariant)");
                }

                foreach (Problem problem in problems)
                {
                    output.Marked("", "DAMAGED", Tone.Bad, $" {problem}");
                }
            }

            int bad = results.Count(r => r.Problems.Count > 0);
            output.Line(ok ? $"{results.Count} snapshot(s) verify" : $"{bad} of {results.Count} snapshot(s) damaged");
        }

        return ok ? ExitCodes.Success : ExitCodes.DataError;
    }

    /// <summary><c>inspect diff A B</c>: 0 when bitwise equal, 1 when something differs.</summary>
    internal static int Diff(Output output, string a, string b, bool json)
    {
        using var sa = Snapshot.Open(ResolveSnapshot(a));
        using var sb = Snapshot.Open(ResolveSnapshot(b));
        var diffs = Differ.Compare(sa, sb);
        bool equal = diffs.All(d => d.Equal) && sa.Step == sb.Step;
        if (json)
        {
            output.WriteJson(new { a = sa.Path, b = sb.Path, step_a = sa.Step, step_b = sb.Step, equal, datasets = diffs });
            return equal ? ExitCodes.Success : ExitCodes.Failure;
        }

        output.Line($"A: {sa.Path} (step {sa.Step}, {sa.Ranks} ranks)");
        output.Line($"B: {sb.Path} (step {sb.Step}, {sb.Ranks} ranks)");
        output.Table(
            ["dataset", "bitwise", "differing", "first difference", "max |a-b|", "max rel"],
            diffs.Select(d => (IReadOnlyList<(string, Tone)>)
            [
                (d.Dataset, Tone.Plain),
                (d.Equal ? "equal" : "DIFFERENT", d.Equal ? Tone.Good : Tone.Bad),
                (d.Equal || d.Note is not null ? "" : d.DifferingElements.ToString(CultureInfo.InvariantCulture), Tone.Plain),
                (d.Note ?? (d.FirstElement is long e ? $"element {e}, component {d.FirstComponent}: {G(d.FirstA)} vs {G(d.FirstB)}" : ""), Tone.Plain),
                (d.MaxAbs is double abs ? G(abs) : "", Tone.Plain),
                (d.MaxRel is double rel ? G(rel) : "", Tone.Plain),
            ]),
            rightAligned: new HashSet<int> { 2 });
        if (sa.Step != sb.Step)
        {
            output.Marked("", "note", Tone.Note, $": different steps ({sa.Step} vs {sb.Step})");
        }

        output.Line(equal ? "bitwise identical" : "the snapshots differ");
        return equal ? ExitCodes.Success : ExitCodes.Failure;
    }

    /// <summary><c>inspect metrics DIR [--png FILE]</c>.</summary>
    internal static int Metrics(Output output, string path, string? png, bool json)
    {
        string file = System.IO.Directory.Exists(path) ? Path.Combine(path, "metrics.jsonl") : path;
        if (!File.Exists(file))
        {
            if (!System.IO.Directory.Exists(path))
            {
                throw new UsageException($"{path} does not exist: give a checkpoint directory or its metrics.jsonl");
            }

            throw new SnapshotException($"{path} has no metrics.jsonl (rank 0 of a run writes it there; was this directory ever used by a run?)");
        }

        MetricsReport report = MetricsReport.Read(file);
        if (png is not null)
        {
            report.Plot(png);
        }

        if (json)
        {
            output.WriteJson(report);
            return ExitCodes.Success;
        }

        output.Heading($"{file}: {report.Checkpoints} checkpoint(s), {report.FailedCheckpoints} failed, {report.Restarts} restart(s)");
        var rows = new List<IReadOnlyList<(string, Tone)>>();
        void Add(string what, Stats? stats)
        {
            if (stats is not null)
            {
                rows.Add([(what, Tone.Plain), (stats.Count.ToString(CultureInfo.InvariantCulture), Tone.Plain), (S(stats.Median), Tone.Plain), (S(stats.P95), Tone.Plain), (S(stats.Max), Tone.Plain)]);
            }
        }

        foreach (var (trigger, stats) in report.CheckpointCostByTrigger)
        {
            Add($"checkpoint ({trigger})", stats);
        }

        if (report.CheckpointCostByTrigger.Count > 1)
        {
            Add("checkpoint (all)", report.CheckpointCost);
        }

        Add("agreement", report.AgreementCost);
        Add("restart", report.RestartCost);
        Add("interval", report.Interval);
        if (rows.Count > 0)
        {
            output.Table(["seconds", "n", "median", "p95", "max"], rows, rightAligned: new HashSet<int> { 1, 2, 3, 4 });
        }

        if (report.UnreadableLines > 0)
        {
            output.Marked("", "note", Tone.Note, $": {report.UnreadableLines} line(s) could not be read (a run killed mid-line?)");
        }

        if (png is not null)
        {
            output.Line($"plot: {png}");
        }

        return ExitCodes.Success;
    }

    /// <summary><c>inspect export PATH --xdmf</c>.</summary>
    internal static int Export(Output output, string path, bool xdmf, bool json)
    {
        if (!xdmf)
        {
            throw new UsageException("say which format to export: --xdmf (the only one so far)");
        }

        List<string> files = System.IO.Directory.Exists(path) ? CommittedSnapshots(path)
            : File.Exists(path) ? [path]
            : throw new UsageException($"{path} does not exist: give a snapshot file or a checkpoint directory");
        if (files.Count == 0)
        {
            throw new SnapshotException($"{path} holds no committed snapshot (ckpt-<step>.h5): nothing to export");
        }

        var written = new List<object>();
        foreach (string file in files)
        {
            using var snapshot = Snapshot.Open(file);
            var arrays = snapshot.State.Select(d => d.ToXdmf()).ToList();
            if (XdmfSidecar.WhyNot(arrays) is string why)
            {
                throw new SnapshotException($"{file} cannot be shown as points: {why}");
            }

            string sidecar = XdmfSidecar.Write(file, snapshot.Step, arrays);
            long points = snapshot.State.First(d => d.Name == XdmfSidecar.PositionName).Count;
            written.Add(new { snapshot = file, xdmf = sidecar, points });
            if (!json)
            {
                output.Line($"{sidecar}: {points} points from {Path.GetFileName(file)}:/state/{XdmfSidecar.PositionName}, " +
                    $"attributes {string.Join(", ", arrays.Where(a => a.Name != XdmfSidecar.PositionName && a.Count == points).Select(a => a.Name))} (open it in ParaView or VisIt)");
            }
        }

        if (json)
        {
            output.WriteJson(written);
        }

        return ExitCodes.Success;
    }

    private static void RequireDirectory(string path, bool unknownSubcommand)
    {
        if (System.IO.Directory.Exists(path))
        {
            return;
        }

        if (File.Exists(path))
        {
            throw new UsageException($"{path} is a file; 'inspect DIR' wants a checkpoint directory (for one snapshot: inspect verify {path})");
        }

        bool looksLikeCommand = unknownSubcommand && !path.Contains('/', StringComparison.Ordinal) && !path.Contains('.', StringComparison.Ordinal);
        throw new UsageException(looksLikeCommand
            ? $"'{path}' is neither a subcommand ({string.Join(", ", s_subcommands)}) nor an existing directory (inspect --help)"
            : $"checkpoint directory {path} does not exist");
    }

    /// <summary>Committed snapshot files of a directory, newest first (regular files only, as a restart sees them).</summary>
    private static List<string> CommittedSnapshots(string directory) =>
        [.. new DirectoryInfo(directory).EnumerateFiles("ckpt-*.h5")
            .Where(f => Verifier.CommittedPattern().IsMatch(f.Name) && f.LinkTarget is null)
            .OrderByDescending(f => f.Name, StringComparer.Ordinal)
            .Select(f => f.FullName)];

    private static string ResolveSnapshot(string path)
    {
        if (System.IO.Directory.Exists(path))
        {
            return CommittedSnapshots(path).FirstOrDefault()
                ?? throw new SnapshotException($"{path} holds no committed snapshot (ckpt-<step>.h5) to compare");
        }

        return File.Exists(path) ? path : throw new UsageException($"{path} does not exist: give a snapshot file or a checkpoint directory");
    }

    private static string FormatTime(string? iso) =>
        DateTime.TryParse(iso, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out DateTime t)
            ? t.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)
            : iso ?? "?";

    private static string FormatRanks(long? ranks, IReadOnlyList<string>? hosts)
    {
        string count = ranks?.ToString(CultureInfo.InvariantCulture) ?? "?";
        if (hosts is null)
        {
            return count;
        }

        int distinct = hosts.Distinct(StringComparer.Ordinal).Count();
        return $"{count} on {distinct} host{(distinct == 1 ? "" : "s")}";
    }

    private static string Format(object value) => value switch
    {
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static string G(double? v) => v?.ToString("G6", CultureInfo.InvariantCulture) ?? "";

    private static string S(double seconds) => seconds.ToString("F4", CultureInfo.InvariantCulture);
}

/// <summary>Human-readable sizes.</summary>
internal static class Units
{
    internal static string Bytes(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:F1} KiB"),
        < 1024L * 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024):F1} MiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024 * 1024):F2} GiB"),
    };
}

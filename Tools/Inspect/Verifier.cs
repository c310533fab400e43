using System.Globalization;
using System.Text.RegularExpressions;
using Coordinated.Checkpointing;

namespace Coordinated.Inspect;

/// <summary>One thing wrong with a snapshot.</summary>
/// <param name="File">The snapshot's file name.</param>
/// <param name="Dataset">The dataset concerned (<c>/state/pos</c>), or null for the file as a whole.</param>
/// <param name="First">First element of the damaged range, or null.</param>
/// <param name="End">One past the last element of the damaged range, or null.</param>
/// <param name="Message">What is wrong.</param>
internal sealed record Problem(string File, string? Dataset, long? First, long? End, string Message)
{
    public override string ToString() => $"{File}: {Describe()}";

    /// <summary>The problem without the file name: <c>/state/pos elements [0, 32): ...</c>.</summary>
    internal string Describe() => $"{(Dataset is null ? "" : Dataset + (First is long f ? $" elements [{f}, {End})" : "") + ": ")}{Message}";
}

/// <summary>
/// Checks a snapshot the way a restart would, and more: every checksum row of every dataset (not only those of one
/// reader's slice), that the rows tile each dataset exactly, and the commit invariants (the name's step equals the
/// <c>step</c> attribute, <c>state_names</c> lists exactly the datasets, the root attributes a restart needs exist).
/// </summary>
internal static partial class Verifier
{
    private static readonly string[] s_required = ["format", "format_version", "app", "step", "ranks", "created_utc", "trigger", "restart_count", "state_names", "checksum_algorithm"];

    [GeneratedRegex(@"^ckpt-(\d{9,})\.h5$")]
    internal static partial Regex CommittedPattern();

    /// <summary>Every problem of the snapshot at <paramref name="path"/>; empty when it verifies, null when it vanished.</summary>
    internal static List<Problem>? Verify(string path)
    {
        string name = Path.GetFileName(path);
        try
        {
            using var snapshot = Snapshot.Open(path);
            var problems = Verify(snapshot);
            return problems.Count > 0 && RecycledWhileRead(path) ? null : problems;
        }
        catch (SnapshotException e) when (e.Vanished || RecycledWhileRead(path))
        {
            return null;
        }
        catch (SnapshotException e)
        {
            return [new Problem(name, null, null, null, e.Message)];
        }
    }

    /// <summary>
    /// True when the committed name is gone after a read that found problems: a running run's retention deleted the
    /// file, or renamed it away to rewrite it in place (recycling, docs/RELIABILITY.md) while inspect read it. The
    /// runtime renames a file away before it overwrites a byte, and never gives a name back, so a name that still
    /// exists after the read held the same file throughout, and its problems are real.
    /// </summary>
    internal static bool RecycledWhileRead(string path) => !File.Exists(path);

    /// <summary>Every problem of an open snapshot; empty when it verifies.</summary>
    internal static List<Problem> Verify(Snapshot snapshot)
    {
        string file = snapshot.Name;
        var problems = new List<Problem>();
        void Add(string? dataset, string message, long? first = null, long? end = null) => problems.Add(new Problem(file, dataset, first, end, message));

        foreach (string attribute in s_required.Where(a => !snapshot.Attributes.ContainsKey(a)))
        {
            Add(null, $"root attribute '{attribute}' is missing");
        }

        if (snapshot.Text("checksum_algorithm") is string algorithm && algorithm != "crc32c")
        {
            Add(null, $"checksum_algorithm is '{algorithm}'; only crc32c is known");
        }

        Match m = CommittedPattern().Match(file);
        if (m.Success && long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) != snapshot.Step)
        {
            Add(null, $"the name says step {long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)} but the 'step' attribute is {snapshot.Step}: renamed by hand?");
        }

        if (snapshot.Ranks < 1)
        {
            Add(null, $"'ranks' is {snapshot.Ranks}; a snapshot has at least one writer");
        }

        if (snapshot.Hosts is { } hosts && hosts.Count != snapshot.Ranks)
        {
            Add(null, $"'hosts' names {hosts.Count} hosts for {snapshot.Ranks} ranks");
        }

        var declared = (snapshot.Text("state_names") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
        var present = snapshot.State.Select(d => d.Name).ToHashSet(StringComparer.Ordinal);
        foreach (string missing in declared.Except(present).Order(StringComparer.Ordinal))
        {
            Add($"/state/{missing}", "listed in state_names but missing");
        }

        foreach (string extra in present.Except(declared).Order(StringComparer.Ordinal))
        {
            Add($"/state/{extra}", "present but not listed in state_names");
        }

        foreach (StateDataset dataset in snapshot.State)
        {
            VerifyDataset(snapshot, dataset, Add);
        }

        return problems;
    }

    private static void VerifyDataset(Snapshot snapshot, StateDataset dataset, Action<string?, string, long?, long?> add)
    {
        string name = $"/state/{dataset.Name}";
        (long First, long Count, uint Crc)[]? rows;
        try
        {
            rows = snapshot.ReadChecksums(dataset.Name);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            add(name, $"cannot be read: {e.Message}", null, null);
            return;
        }

        if (rows is null)
        {
            add(name, $"has no /checksums/{dataset.Name}: nothing vouches for its bytes", null, null);
            return;
        }

        long expected = 0;
        foreach (var (first, count, stored) in rows.OrderBy(r => r.First))
        {
            if (first != expected || count <= 0 || first + count > dataset.Count)
            {
                add(name, $"checksum row ({first}, {count}) does not continue the tiling at element {expected} of {dataset.Count}", first, first + Math.Max(count, 0));
                if (count <= 0 || first < 0 || first + count > dataset.Count)
                {
                    continue;
                }
            }

            uint computed;
            try
            {
                // One checksum block (at most 4 MiB) at a time: memory does not grow with the snapshot.
                computed = Crc32C.Compute(snapshot.ReadBytes(dataset, first, count));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                add(name, $"cannot be read: {e.Message}", first, first + count);
                expected = first + count;
                continue;
            }

            if (computed != stored)
            {
                add(name, $"CRC-32C mismatch (stored {stored:x8}, computed {computed:x8})", first, first + count);
            }

            expected = first + count;
        }

        if (expected != dataset.Count)
        {
            add(name, $"checksums cover elements [0, {expected}) of {dataset.Count}", expected, dataset.Count);
        }
    }
}

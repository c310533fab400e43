using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Coordinated.Mpi;

namespace Coordinated.Checkpointing;

/// <summary>
/// The local and partner checkpoint levels (--checkpoint-local-dir, docs/MULTILEVEL.md). At a local checkpoint every
/// rank checksums its part of the registered state (<see cref="LocalFile.EncodePartHeader"/>) and MPI_Alltoallv sends
/// the header and then each array's bytes, straight from the state, both to its node's leader and to the leader of its
/// partner node (the next node in the ring): the gather on the node and the partner copy in one collective per array,
/// with no copy into a send buffer; the leader writes its own ranks' bytes directly. Each leader writes its node's
/// file and the partner copy into its node-local directory (temporary, then rename; no fsync on tmpfs), and one
/// agreement decides: committed only when every node has both. Restart (<see cref="Choose"/>, <see cref="Load"/>):
/// the leaders list and verify what they hold, one allgather tells everyone, and the newest step that every rank's
/// part is present for is moved over MPI to the ranks that need it.
/// </summary>
internal sealed class LocalLevel
{
    private const long TmpfsMagic = 0x01021994;
    private readonly Communicator _comm;
    private readonly string _app;
    private readonly int _keep;
    private readonly bool _tmpfs;
    private readonly List<long> _committed = [];
    private readonly HashSet<string> _verified = new(StringComparer.Ordinal); // leader: the files Choose verified

    private LocalLevel(Communicator comm, string app, NodeLayout nodes, string directory, bool partner, int keep, bool tmpfs, bool enabled)
    {
        _comm = comm;
        _app = app;
        Nodes = nodes;
        Directory = directory;
        Partner = partner;
        _keep = keep;
        _tmpfs = tmpfs;
        Enabled = enabled;
    }

    /// <summary>This node's local directory (%N and %j expanded).</summary>
    internal string Directory { get; }

    /// <summary>The nodes of this run.</summary>
    internal NodeLayout Nodes { get; }

    /// <summary>False when the directory could not be used or filled up: every checkpoint is then global.</summary>
    internal bool Enabled { get; private set; }

    /// <summary>Partner copies are made (more than one node and no --no-partner).</summary>
    internal bool Partner { get; }

    /// <summary>The metrics level of a committed local checkpoint: <c>local+partner</c> or <c>local</c>.</summary>
    internal string Level => Partner ? "local+partner" : "local";

    private bool IsLeader => _comm.Rank == Nodes.Leader(Nodes.Node);

    private string NodeName => Nodes.Names[Nodes.Node];

    /// <summary>
    /// Finds the nodes, creates and probes each node's directory (on its leader), and says on rank 0 what it found:
    /// one warning if a directory cannot be used (the run then goes on with global checkpoints only). Collective.
    /// </summary>
    internal static LocalLevel Open(Communicator comm, string app, CheckpointOptions options, RuntimeLog log)
    {
        var nodes = NodeLayout.Gather(comm);
        string name = nodes.Names[nodes.Node];
        string directory = Path.GetFullPath(NodeLayout.Expand(options.LocalDirectory!, name));
        bool tmpfs = false;
        Exception? error = null;
        if (comm.Rank == nodes.Leader(nodes.Node))
        {
            error = Phases.Run(() =>
            {
                System.IO.Directory.CreateDirectory(directory);
                string probe = Path.Combine(directory, $".probe-{Environment.ProcessId}");
                File.WriteAllBytes(probe, [1]);
                File.Delete(probe);
                tmpfs = IsTmpfs(directory);
                foreach (string leftover in System.IO.Directory.EnumerateFiles(directory, "." + app + "-*" + LocalFile.Extension + ".tmp"))
                {
                    File.Delete(leftover);
                }
            });
            if (error is not null)
            {
                error = new IOException($"{directory} on node {name}: {error.Message}");
            }
        }

        string? failure = Phases.Agree(comm, null, error);
        bool partner = !options.NoPartner && nodes.Count > 1;
        var level = new LocalLevel(comm, app, nodes, directory, partner, options.Keep, tmpfs, enabled: failure is null);
        if (failure is not null)
        {
            log.Warning($"--checkpoint-local-dir: cannot use {failure}. Going on with global checkpoints only (every checkpoint is written to {options.Directory}). What to do: give a directory that can be created and written on every node.");
        }
        else if (!options.NoPartner && nodes.Count == 1)
        {
            log.Warning($"--checkpoint-local-dir: the run has one node ({name}), so there is no partner node: local copies only (losing the node loses the local level; the global level every {options.GlobalEvery} checkpoints remains). Use --no-partner to say this is intended.");
        }
        else
        {
            log.Info($"local level: {nodes.Count} node(s) ({string.Join(", ", nodes.Names.Select((n, i) => $"{n}: ranks {NodeLayout.Ranges(nodes.RanksOfNode[i])}"))}) in {options.LocalDirectory}" +
                $"{(partner ? ", partner copy on the next node in the ring" : ", no partner copies")}{(tmpfs ? " (tmpfs: no fsync)" : "")}; global level every {options.GlobalEvery} checkpoints");
        }

        return level;
    }

    /// <summary>
    /// Writes the local (and partner) checkpoint of <paramref name="step"/> and agrees on it; on success applies the
    /// retention (the newest --keep committed steps stay). A failure (disk full, I/O error) turns the local level off
    /// for the rest of the run. Collective.
    /// </summary>
    internal CommitOutcome Write(SnapshotContent content, long step, Trigger trigger, double agreeSeconds, double? stageSeconds)
    {
        var total = Stopwatch.StartNew();
        byte[] header = [];
        string? failure = Phases.Agree(_comm, "checksums of the local checkpoint", Phases.Run(() => header = LocalFile.EncodePartHeader(content, _comm.Rank, step)));
        var timings = new SnapshotWriter.WriteTimings { Bytes = content.Bytes };
        string ownName = LocalFile.Name(_app, step, Nodes.RanksOfNode[Nodes.Node], _comm.Size, partner: false);
        if (failure is null)
        {
            // Column 0: every rank's part header; column c: the bytes of array c - 1. Everyone learns every length.
            int columns = content.Arrays.Count + 1;
            long[] mine = [header.Length, .. content.Arrays.Select(a => (long)a.Bytes.Length)];
            long[] lengths = new long[_comm.Size * columns];
            _comm.Allgatherv<long>(mine, lengths, Enumerable.Repeat(columns, _comm.Size).ToArray(), Enumerable.Range(0, _comm.Size).Select(r => r * columns).ToArray());
            failure = TooLarge(lengths, columns);
            if (failure is null)
            {
                var received = new byte[columns][];
                var offsets = new int[columns][];
                received[0] = Exchange(header, r => lengths[r * columns], out offsets[0]);
                for (int c = 1; c < columns; c++)
                {
                    int column = c;
                    received[c] = Exchange(content.Arrays[c - 1].Bytes, r => lengths[(r * columns) + column], out offsets[c]);
                }

                Exception? error = null;
                double flush = 0;
                if (IsLeader)
                {
                    var parts = new Parts(content, header, received, offsets, lengths, columns, _comm.Rank);
                    error = Phases.Run(() => flush = WriteFiles(content, step, parts));
                    if (error is not null)
                    {
                        error = new IOException($"writing the local checkpoint in {Directory} on node {NodeName}: {error.Message}");
                    }
                }

                timings.WriteSeconds = total.Elapsed.TotalSeconds - flush; // checksums, exchange, write
                timings.FlushSeconds = flush;
                failure = Phases.Agree(_comm, null, error);
            }
        }

        var commit = Stopwatch.StartNew();
        List<string> removed = [];
        if (failure is null)
        {
            FaultInjection.At("local-committed", _comm.Rank, step);
            if (IsLeader)
            {
                _committed.Add(step);
                removed = Retention();
            }
        }
        else
        {
            Enabled = false;
            if (IsLeader)
            {
                DeleteStep(step);
            }
        }

        return new CommitOutcome(step, trigger, failure, timings, agreeSeconds, stageSeconds, commit.Elapsed.TotalSeconds,
            total.Elapsed.TotalSeconds + agreeSeconds + (stageSeconds ?? 0), removed, Level, Path.Combine(Directory, ownName));
    }

    /// <summary>After a restore from the local level: that step counts as committed for the retention. Local.</summary>
    internal void Restored(long step) => _committed.Add(step);

    /// <summary>Why the exchange cannot be done (MPI counts are 32-bit), or null. Same on every rank.</summary>
    private string? TooLarge(long[] lengths, int columns)
    {
        for (int r = 0; r < _comm.Size; r++)
        {
            long part = Enumerable.Range(0, columns).Sum(c => lengths[(r * columns) + c]);
            if (part > int.MaxValue - 64)
            {
                return $"rank {r}'s part is {RuntimeLog.FormatBytes(part)}; the local level holds at most 2 GiB per rank";
            }
        }

        for (int node = 0; node < Nodes.Count; node++)
        {
            int[] sources = [.. Nodes.RanksOfNode[node], .. Partner ? Nodes.RanksOfNode[Nodes.PartnerSourceOf(node)] : []];
            for (int c = 0; c < columns; c++)
            {
                long bytes = sources.Sum(r => lengths[(r * columns) + c]);
                if (bytes > int.MaxValue)
                {
                    return $"node {Nodes.Names[node]} would receive {RuntimeLog.FormatBytes(bytes)} of one array for its local and partner copies; the local level handles at most 2 GiB per array and node";
                }
            }
        }

        return null;
    }

    /// <summary>
    /// One MPI_Alltoallv: <paramref name="data"/> goes to this node's leader (unless this rank is the leader: it writes
    /// its own bytes directly) and to the partner node's leader. Returns what this rank received (leaders only), at
    /// <paramref name="offsets"/> by source rank. Collective.
    /// </summary>
    private byte[] Exchange(ReadOnlySpan<byte> data, Func<int, long> length, out int[] offsets)
    {
        int size = _comm.Size;
        int[] sendCounts = new int[size], sendDispls = new int[size], receiveCounts = new int[size];
        offsets = new int[size];
        if (!IsLeader)
        {
            sendCounts[Nodes.Leader(Nodes.Node)] = data.Length;
        }

        if (Partner)
        {
            sendCounts[Nodes.Leader(Nodes.PartnerOf(Nodes.Node))] = data.Length;
        }

        if (IsLeader)
        {
            foreach (int r in Nodes.RanksOfNode[Nodes.Node].Where(r => r != _comm.Rank))
            {
                receiveCounts[r] = (int)length(r);
            }

            if (Partner)
            {
                foreach (int r in Nodes.RanksOfNode[Nodes.PartnerSourceOf(Nodes.Node)])
                {
                    receiveCounts[r] = (int)length(r);
                }
            }
        }

        int at = 0;
        for (int r = 0; r < size; r++)
        {
            offsets[r] = at;
            at += receiveCounts[r];
        }

        byte[] received = GC.AllocateUninitializedArray<byte>(at);
        _comm.Alltoallv(data, sendCounts, sendDispls, received, receiveCounts, offsets);
        return received;
    }

    /// <summary>Where each rank's part is on the leader: its own in the state itself, the others' in the exchanged columns.</summary>
    private sealed class Parts(SnapshotContent content, byte[] header, byte[][] received, int[][] offsets, long[] lengths, int columns, int self)
    {
        internal long Length(int rank) => Enumerable.Range(0, columns).Sum(c => lengths[(rank * columns) + c]);

        internal void Write(Stream stream, int rank)
        {
            if (rank == self)
            {
                stream.Write(header);
                foreach (StateArray array in content.Arrays)
                {
                    stream.Write(array.Bytes);
                }

                return;
            }

            for (int c = 0; c < columns; c++)
            {
                stream.Write(received[c].AsSpan(offsets[c][rank], (int)lengths[(rank * columns) + c]));
            }
        }
    }

    /// <summary>The leader writes its node's file and the partner copy; returns the seconds spent in fsync. Local.</summary>
    private double WriteFiles(SnapshotContent content, long step, Parts parts)
    {
        FaultInjection.At("local-write", _comm.Rank, step);
        if (FaultInjection.Fails("local-full", _comm.Rank, step))
        {
            throw new IOException("No space left on device (injected: COORDINATED_FAULT_FAIL=local-full)");
        }

        string parameters = LocalFile.Parameters(content.Parameters);
        string names = string.Join(",", content.Arrays.Select(a => a.Name));
        System.IO.Directory.CreateDirectory(Directory); // again, in case it was removed while the run went on
        var flush = new Stopwatch();
        void One(int node, bool partner)
        {
            int[] ranks = Nodes.RanksOfNode[node];
            string name = LocalFile.Name(_app, step, ranks, _comm.Size, partner);
            string temporary = Path.Combine(Directory, "." + name + ".tmp");
            try
            {
                // Rewrite a superseded file in place when retention left one: its pages are already the file's (on
                // tmpfs a new file takes fresh memory, which a VM pays dearly for). It is a temporary: no level counts it.
                string recycled = RecycleName(partner ? 1 : 0);
                if (File.Exists(recycled))
                {
                    File.Move(recycled, temporary, overwrite: true);
                }

                var header = new LocalFile.Header(_app, step, content.RestartCount, _comm.Size, ranks, parameters, names);
                LocalFile.Write(temporary, header, [.. ranks.Select(parts.Length)], (stream, i) => parts.Write(stream, ranks[i]));
                if (!_tmpfs)
                {
                    flush.Start();
                    DurableFiles.FlushFile(temporary);
                    flush.Stop();
                }

                File.Move(temporary, Path.Combine(Directory, name), overwrite: true);
            }
            catch
            {
                TryDelete("." + name + ".tmp"); // a full disk gets its space back
                throw;
            }
        }

        One(Nodes.Node, partner: false);
        if (Partner)
        {
            One(Nodes.PartnerSourceOf(Nodes.Node), partner: true);
        }

        if (!_tmpfs)
        {
            flush.Start();
            DurableFiles.FlushDirectory(Directory, step);
            flush.Stop();
        }

        return flush.Elapsed.TotalSeconds;
    }

    /// <summary>Keeps the files of the newest --keep committed steps; deletes this app's other local files. Leader.</summary>
    private List<string> Retention()
    {
        var keep = _committed.Distinct().OrderDescending().Take(_keep).ToHashSet();
        var removed = new List<string>();
        foreach (var (name, parsed) in List())
        {
            if (!keep.Contains(parsed.Step) && (TryRecycle(name, parsed.Partner) || TryDelete(name)))
            {
                removed.Add(name);
            }
        }

        _committed.RemoveAll(s => !keep.Contains(s));
        return removed;
    }

    /// <summary>The temporary name under which retention keeps one superseded file for reuse (slot 0: own, 1: partner copy).</summary>
    private string RecycleName(int slot) => Path.Combine(Directory, $".{_app}-recycle-{slot}{LocalFile.Extension}.tmp");

    /// <summary>Renames a superseded file to its recycle slot if that slot is free (the next write rewrites it). Leader.</summary>
    private bool TryRecycle(string name, bool partner)
    {
        string slot = RecycleName(partner ? 1 : 0);
        try
        {
            if (File.Exists(slot))
            {
                return false;
            }

            File.Move(Path.Combine(Directory, name), slot);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private void DeleteStep(long step)
    {
        foreach (var (name, parsed) in List())
        {
            if (parsed.Step == step)
            {
                TryDelete(name);
            }
        }
    }

    private bool TryDelete(string name)
    {
        try
        {
            File.Delete(Path.Combine(Directory, name));
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>This app's local-level files in this node's directory. Leader.</summary>
    private List<(string Name, (string App, long Step, int[] Ranks, int Size, bool Partner) Parsed)> List()
    {
        var files = new List<(string, (string, long, int[], int, bool))>();
        try
        {
            foreach (string path in System.IO.Directory.EnumerateFiles(Directory, "*" + LocalFile.Extension))
            {
                string name = Path.GetFileName(path);
                if (LocalFile.ParseName(name) is { } parsed && parsed.App == _app)
                {
                    files.Add((name, parsed));
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return files;
    }

    private static bool IsTmpfs(string directory)
    {
        unsafe
        {
            byte* buffer = stackalloc byte[256];
            return Interop.Libc.statfs(directory, buffer) == 0 && *(long*)buffer == TmpfsMagic;
        }
    }

    /// <summary>What the restart found on the local level and what it chose.</summary>
    internal sealed record Choice(long Step, int[] Holder, string Level, string Why);

    /// <summary>
    /// Every leader lists and verifies the local files it holds for this app; one allgather; the newest step for which
    /// every rank's part is present on some node, if it is at least as new as the newest global snapshot
    /// (<paramref name="globalStep"/>, -1 when none). Returns null with <paramref name="why"/> when the global level
    /// (or nothing) is to be used; <paramref name="warnings"/> names each damaged file and what replaces it. Collective.
    /// </summary>
    internal Choice? Choose(StateRegistry state, long globalStep, out string why, out List<string> warnings)
    {
        var lines = new List<string>();
        if (IsLeader && Enabled)
        {
            string parameters = LocalFile.Parameters(state.Parameters);
            string names = string.Join(",", state.Arrays.Select(a => a.Name));
            foreach (var (name, parsed) in List())
            {
                if (parsed.Size != _comm.Size)
                {
                    lines.Add($"X\t{parsed.Step}\twritten by {parsed.Size} ranks, this run has {_comm.Size}");
                    continue;
                }

                try
                {
                    var (header, _) = LocalFile.Read(Path.Combine(Directory, name), verify: true);
                    string? mismatch = header.App != _app ? $"written by app '{header.App}'"
                        : header.Size != _comm.Size ? $"written by {header.Size} ranks, this run has {_comm.Size}"
                        : header.Parameters != parameters ? $"other parameters ({Difference(header.Parameters, parameters)})"
                        : header.StateNames != names ? $"other state [{header.StateNames}], this run registers [{names}]"
                        : header.Step != parsed.Step || !header.Ranks.SequenceEqual(parsed.Ranks) ? "its header does not match its name"
                        : null;
                    if (mismatch is null)
                    {
                        _verified.Add(name);
                    }

                    lines.Add(mismatch is null
                        ? $"F\t{parsed.Step}\t{NodeLayout.Ranges(parsed.Ranks, "_")}\t{name}"
                        : $"X\t{parsed.Step}\t{OneLine(mismatch)}");
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    // Damage can surface as any exception of the decoder (a bad length prefix is a FormatException):
                    // every one is reported, none may escape, or the other ranks would wait in the allgather below.
                    lines.Add($"C\t{parsed.Step}\t{NodeLayout.Ranges(parsed.Ranks, "_")}\t{Path.Combine(Directory, name)} on node {NodeName}: {OneLine(e.Message)}");
                }
            }
        }

        string[] all = StateRegistry.GatherStrings(_comm, string.Join('\n', lines));
        var held = new Dictionary<long, List<(int Node, int[] Ranks, bool Partner)>>();
        var corrupt = new List<(long Step, int[] Ranks, string Text)>();
        var foreign = new SortedSet<string>(StringComparer.Ordinal);
        for (int r = 0; r < all.Length; r++)
        {
            foreach (string line in all[r].Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                string[] f = line.Split('\t');
                long step = long.Parse(f[1], CultureInfo.InvariantCulture);
                switch (f[0])
                {
                    case "F":
                        (held.TryGetValue(step, out var list) ? list : held[step] = []).Add((Nodes.NodeOfRank[r], NodeLayout.ParseRanges(f[2])!, LocalFile.ParseName(f[3])?.Partner ?? false));
                        break;
                    case "C":
                        corrupt.Add((step, NodeLayout.ParseRanges(f[2])!, f[3]));
                        break;
                    default:
                        foreign.Add(f[2]);
                        break;
                }
            }
        }

        long best = -1;
        int[] holder = [];
        bool[] fromPartnerCopy = [];
        foreach (long step in held.Keys.OrderDescending())
        {
            int[] candidate = Enumerable.Repeat(-1, _comm.Size).ToArray();
            bool[] kind = new bool[_comm.Size];
            foreach (var (node, ranks, partner) in held[step].OrderBy(h => h.Node))
            {
                foreach (int rank in ranks)
                {
                    if (rank < _comm.Size && (candidate[rank] < 0 || node == Nodes.NodeOfRank[rank]))
                    {
                        (candidate[rank], kind[rank]) = (node, partner);
                    }
                }
            }

            if (candidate.All(n => n >= 0))
            {
                (best, holder, fromPartnerCopy) = (step, candidate, kind);
                break;
            }
        }

        warnings = [.. corrupt.Select(c => $"local file {c.Text}; " + (c.Step == best
            ? $"{RanksText(c.Ranks)} taken from {string.Join(", ", c.Ranks.Select(r => holder[r]).Distinct().Select(n => "node " + Nodes.Names[n]))}'s copy"
            : "not used (an older local checkpoint or the global level is)"))];
        if (best < 0)
        {
            why = held.Count == 0 && corrupt.Count == 0 && foreign.Count == 0
                ? (Enabled ? "no local checkpoint found" : "the local directory cannot be used")
                : foreign.Count > 0 && held.Count == 0
                    ? $"the local level is not usable: {string.Join("; ", foreign)}"
                    : $"no complete local checkpoint: {MissingText(held, damaged: corrupt.Count > 0)}; falling back to the global snapshot";
            return null;
        }

        if (globalStep > best)
        {
            why = $"the global snapshot is newer than the newest complete local checkpoint (step {best})";
            return null;
        }

        why = "";
        var moved = Enumerable.Range(0, _comm.Size).Where(r => holder[r] != Nodes.NodeOfRank[r]).ToArray();
        if (moved.Length == 0)
        {
            return new Choice(best, holder, "local", $"every rank's part found on the node that runs it ({string.Join(", ", Nodes.Names)})");
        }

        var replaced = ReplacedNodes();
        var groups = moved.GroupBy(r => (Running: Nodes.NodeOfRank[r], From: holder[r], Partner: fromPartnerCopy[r]))
            .Select(g => (replaced.TryGetValue(Nodes.Names[g.Key.Running], out string? lost)
                    ? $"{NodeText(lost)} lost (replaced by {Nodes.Names[g.Key.Running]}): its part ({RanksText(g)})"
                    : $"{NodeText(Nodes.Names[g.Key.Running])} has no verified copy of {RanksText(g)} (node lost or replaced, or its file damaged);") +
                $" rebuilt from {NodeText(Nodes.Names[g.Key.From])}'s {(g.Key.Partner ? "partner copy" : "copy")}");
        return new Choice(best, holder, "partner", string.Join("; ", groups));
    }

    private static string OneLine(string text) => text.Replace('\n', ' ').Replace('\t', ' ').Replace('\r', ' ');

    /// <summary>Which ranks no node holds at the newest step seen, and which nodes (with their partners) that means were lost.</summary>
    private string MissingText(Dictionary<long, List<(int Node, int[] Ranks, bool Partner)>> held, bool damaged)
    {
        if (held.Count == 0)
        {
            return "no verified local file";
        }

        long newest = held.Keys.Max();
        var present = held[newest].SelectMany(h => h.Ranks).ToHashSet();
        var missing = Enumerable.Range(0, _comm.Size).Where(r => !present.Contains(r)).ToArray();
        var replaced = ReplacedNodes();
        string Named(int n) => replaced.TryGetValue(Nodes.Names[n], out string? was) ? $"{NodeText(was)} (replaced by {Nodes.Names[n]})" : NodeText(Nodes.Names[n]);
        var lost = missing.Select(r => Nodes.NodeOfRank[r]).Distinct().Select(n => Partner
            ? $"{Named(n)} and its partner {Named(Nodes.PartnerOf(n))}"
            : $"{Named(n)} (no partner copies)");
        return $"{RanksText(missing)} missing on every node at step {newest}: {string.Join(", ", lost)} lost{(damaged ? " (or their files damaged)" : "")}";
    }

    /// <summary>"node3" for a host called node3, "node b" for one called b.</summary>
    private static string NodeText(string name) => name.StartsWith("node", StringComparison.OrdinalIgnoreCase) ? name : "node " + name;

    /// <summary>
    /// Spare -> lost node, from COORDINATED_REPLACED_NODES (<c>lost:spare</c> pairs, comma separated), which mpi-run.sh
    /// sets when it relaunches a step on a spare inside the allocation; empty otherwise. Messages then name the node
    /// that was lost, not only the spare that runs its ranks now.
    /// </summary>
    private static Dictionary<string, string> ReplacedNodes()
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string pair in (Environment.GetEnvironmentVariable("COORDINATED_REPLACED_NODES") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] parts = pair.Split(':');
            if (parts.Length == 2 && parts[0].Length > 0 && parts[1].Length > 0)
            {
                map[parts[1]] = parts[0];
            }
        }

        return map;
    }

    /// <summary>"rank 2" or "ranks 4-7".</summary>
    internal static string RanksText(IEnumerable<int> ranks)
    {
        int[] all = [.. ranks.Distinct()];
        return (all.Length == 1 ? "rank " : "ranks ") + NodeLayout.Ranges(all);
    }

    private static string Difference(string stored, string mine)
    {
        static Dictionary<string, string> Parse(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "", StringComparer.Ordinal);
        var a = Parse(stored);
        var b = Parse(mine);
        static string Show(string value) => value.StartsWith("double:", StringComparison.Ordinal) ? value[(value.LastIndexOf(':') + 1)..] : value[(value.IndexOf(':') + 1)..];
        return string.Join(", ", a.Keys.Union(b.Keys).Order(StringComparer.Ordinal)
            .Where(k => !a.TryGetValue(k, out var x) || !b.TryGetValue(k, out var y) || x != y)
            .Select(k => $"{k}: {(a.TryGetValue(k, out var x) ? Show(x) : "none")} there, {(b.TryGetValue(k, out var y) ? Show(y) : "none")} here"));
    }

    /// <summary>
    /// Moves the chosen parts to the ranks that run them (one MPI_Alltoallv from the holders), verifies them and
    /// loads them into the registered state. Returns null, or why it failed (nothing loaded then). Collective.
    /// </summary>
    internal string? Load(Choice choice, StateRegistry state, out SnapshotReader.ReadOutcome outcome)
    {
        outcome = new SnapshotReader.ReadOutcome("not loaded");
        var read = Stopwatch.StartNew();
        int size = _comm.Size;
        int[] sendCounts = new int[size], sendDispls = new int[size];
        byte[] send = [];
        Exception? error = null;
        if (IsLeader)
        {
            error = Phases.Run(() =>
            {
                var parts = new byte[size][];
                foreach (var (name, parsed) in List())
                {
                    if (parsed.Step == choice.Step && _verified.Contains(name) && parsed.Ranks.Any(r => choice.Holder[r] == Nodes.Node && parts[r] is null))
                    {
                        var (header, bytes) = LocalFile.Read(Path.Combine(Directory, name), verify: false);
                        for (int i = 0; i < header.Ranks.Length; i++)
                        {
                            int r = header.Ranks[i];
                            if (choice.Holder[r] == Nodes.Node && parts[r] is null)
                            {
                                parts[r] = bytes[i];
                            }
                        }
                    }
                }

                long at = 0;
                for (int r = 0; r < size; r++)
                {
                    if (choice.Holder[r] == Nodes.Node)
                    {
                        byte[] part = parts[r] ?? throw new IOException($"the part of rank {r} disappeared from {Directory} on node {NodeName}");
                        sendDispls[r] = (int)at;
                        sendCounts[r] = part.Length;
                        at += part.Length;
                    }
                }

                if (at > int.MaxValue)
                {
                    throw new IOException("more than 2 GiB to send from one node");
                }

                send = GC.AllocateUninitializedArray<byte>((int)at);
                for (int r = 0; r < size; r++)
                {
                    parts[r]?.CopyTo(send, sendDispls[r]);
                }
            });
        }

        string? failure = Phases.Agree(_comm, "reading the local checkpoint", error);
        if (failure is not null)
        {
            return failure;
        }

        int[] receiveCounts = _comm.Alltoall<int>(sendCounts);
        int[] receiveDispls = new int[size];
        for (int r = 1; r < size; r++)
        {
            receiveDispls[r] = receiveDispls[r - 1] + receiveCounts[r - 1];
        }

        byte[] blob = new byte[receiveCounts.Sum()];
        _comm.Alltoallv<byte>(send, sendCounts, sendDispls, blob, receiveCounts, receiveDispls);
        double readSeconds = read.Elapsed.TotalSeconds;

        var verify = Stopwatch.StartNew();
        LocalPart? part = null;
        failure = Phases.Agree(_comm, null, Phases.Run(() =>
        {
            part = LocalFile.DecodePart(blob);
            Check(part, state, choice.Step);
        }));
        if (failure is not null)
        {
            return $"a part moved from the node that holds it is unusable: {failure}";
        }

        Apply(part!, state);
        double verifySeconds = verify.Elapsed.TotalSeconds;
        outcome = new SnapshotReader.ReadOutcome(null, choice.Step, part!.RestartCount, size, state.Bytes, readSeconds, verifySeconds);
        return null;
    }

    private void Check(LocalPart part, StateRegistry state, long step)
    {
        if (part.Rank != _comm.Rank || part.Step != step)
        {
            throw new InvalidDataException($"rank {_comm.Rank} received the part of rank {part.Rank}, step {part.Step}");
        }

        if (part.Arrays.Count != state.Arrays.Count)
        {
            throw new InvalidDataException($"the part holds {part.Arrays.Count} arrays, this run registers {state.Arrays.Count}");
        }

        for (int i = 0; i < part.Arrays.Count; i++)
        {
            var stored = part.Arrays[i];
            StateArray array = state.Arrays[i];
            bool rankState = array is RankStateArray;
            if (stored.Name != array.Name || stored.ElementBytes != array.ElementBytes
                || (!rankState && (stored.Offset != array.GlobalOffset || stored.Count != array.LocalCount))
                || (rankState && stored.Count != 1))
            {
                throw new InvalidDataException($"'{stored.Name}' [{stored.Offset}, +{stored.Count}) x {stored.ElementBytes} B does not match this run's '{array.Name}' [{array.GlobalOffset}, +{array.LocalCount}) x {array.ElementBytes} B");
            }
        }

        foreach (var (name, _, _) in state.Scalars)
        {
            if (!part.Scalars.Any(s => s.Name == name))
            {
                throw new InvalidDataException($"the part has no scalar '{name}'");
            }
        }
    }

    /// <summary>Copies the verified part into the registered arrays; per-rank state gets every rank's row; the scalars come from rank 0's part (as the global snapshot's attributes). Collective.</summary>
    private void Apply(LocalPart part, StateRegistry state)
    {
        for (int i = 0; i < part.Arrays.Count; i++)
        {
            var stored = part.Arrays[i];
            var source = part.Blob.AsSpan(stored.DataOffset, stored.DataLength);
            if (state.Arrays[i] is RankStateArray rankState)
            {
                rankState.PrepareRead(_comm.Size);
                int row = stored.DataLength;
                source.CopyTo(rankState.Bytes.Slice(_comm.Rank * row, row));
                int[] counts = Enumerable.Repeat(row, _comm.Size).ToArray();
                int[] displs = Enumerable.Range(0, _comm.Size).Select(r => r * row).ToArray();
                _comm.AllgathervInPlace(rankState.Bytes, counts, displs);
            }
            else
            {
                source.CopyTo(state.Arrays[i].Bytes);
            }
        }

        long[] bits = [.. state.Scalars.Select(s => part.Scalars.First(p => p.Name == s.Name).Bits)];
        _comm.Broadcast<long>(bits, 0);
        state.RestoreScalars(state.Scalars.Select((s, i) => (s.Name, BitConverter.Int64BitsToDouble(bits[i]))).ToDictionary(p => p.Name, p => p.Item2, StringComparer.Ordinal));
    }
}

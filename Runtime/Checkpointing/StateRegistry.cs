using System.Text;
using Coordinated.Mpi;

namespace Coordinated.Checkpointing;

/// <summary>What one snapshot holds: the app's live arrays, or a staged copy of them for an asynchronous write.</summary>
internal sealed record SnapshotContent(
    string App,
    int RestartCount,
    IReadOnlyList<StateArray> Arrays,
    IReadOnlyDictionary<string, object> Parameters,
    IReadOnlyList<(string Name, double Value)> Scalars,
    string Hosts)
{
    /// <summary>Bytes of /state.</summary>
    internal long Bytes => Arrays.Sum(a => a.GlobalCount * a.ElementBytes);
}

/// <summary>
/// The state an app registered: its partitioned arrays, its parameters (which must match on restart) and its
/// scalars. This is exactly what <see cref="SnapshotWriter"/> writes and <see cref="SnapshotReader"/> reads back.
/// </summary>
internal sealed class StateRegistry(Communicator comm, string app, string hosts)
{
    private readonly List<StateArray> _arrays = [];
    private readonly SortedDictionary<string, object> _parameters = new(StringComparer.Ordinal);
    private readonly List<(string Name, Func<double> Get, Action<double> Set)> _scalars = [];
    private readonly List<RowSet> _rowSets = [];
    private readonly List<RankStateArray> _rankStates = [];

    internal string App => app;

    internal IReadOnlyList<StateArray> Arrays => _arrays;

    internal IReadOnlyDictionary<string, object> Parameters => _parameters;

    internal IReadOnlyList<(string Name, Func<double> Get, Action<double> Set)> Scalars => _scalars;

    /// <summary>Bytes of /state.</summary>
    internal long Bytes => _arrays.Sum(a => a.GlobalCount * a.ElementBytes);

    internal void AddParameter(string name, object value) => _parameters[ValidName(name)] = value;

    internal void AddScalar(string name, Func<double> get, Action<double> set) => _scalars.Add((ValidName(name), get, set));

    /// <summary>Adds this rank's slice of a global array after checking that all ranks' slices tile it. Collective.</summary>
    internal void AddArray<T>(string name, Memory<T> local, long globalOffset, long globalCount, int components)
        where T : unmanaged
    {
        ValidName(name);
        if (!StateArray<T>.IsSupported)
        {
            throw new ArgumentException($"state '{name}': element type {typeof(T).Name} is not supported (use double, float, long, ulong, int, uint, byte, bool, or an unmanaged struct whose fields are all one of these).");
        }

        if (components < 1 || local.Length % components != 0)
        {
            throw new ArgumentException($"state '{name}': {local.Length} values are not a whole number of {components}-component elements.");
        }

        if (globalCount < 1 || globalOffset < 0 || globalOffset + (local.Length / components) > globalCount)
        {
            throw new ArgumentException($"state '{name}': slice [{globalOffset}, {globalOffset + (local.Length / components)}) does not fit a global array of {globalCount} elements.");
        }

        Add(new StateArray<T>(name, local, components, globalOffset, globalCount));
    }

    /// <summary>Adds an array after checking that all ranks' slices tile it. Collective.</summary>
    internal void Add(StateArray array)
    {
        string name = array.Name;
        long globalCount = array.GlobalCount;
        if (_arrays.Any(a => a.Name == name))
        {
            throw new ArgumentException($"state '{name}' is registered twice.");
        }

        var partition = comm.Allgather((array.GlobalOffset, array.LocalCount));
        long expected = 0;
        foreach (var (offset, count) in partition.OrderBy(p => p.Item1))
        {
            if (count == 0)
            {
                continue;
            }

            if (offset != expected)
            {
                throw new CoordinatedException(
                    $"state '{name}': the ranks' slices do not tile [0, {globalCount}) (gap or overlap at element {expected}); this is a bug in the app's partitioning.",
                    ExitCodes.Failure, isCollective: true);
            }

            expected = offset + count;
        }

        if (expected != globalCount)
        {
            throw new CoordinatedException(
                $"state '{name}': the ranks' slices cover {expected} of {globalCount} elements; this is a bug in the app's partitioning.",
                ExitCodes.Failure, isCollective: true);
        }

        array.Partition = partition;
        _arrays.Add(array);
    }

    /// <summary>Adds a variable-size row set (its id and column arrays are registered by the set itself). Collective.</summary>
    internal RowSet AddRows(string idName, long globalRows, Func<ReadOnlyMemory<long>> ids, bool storeIds = true)
    {
        ValidName(idName);
        if (globalRows < 1)
        {
            throw new ArgumentException($"row set '{idName}': {globalRows} rows; at least 1 is needed.");
        }

        var rows = new RowSet(comm, this, idName, globalRows, ids, storeIds);
        _rowSets.Add(rows);
        return rows;
    }

    /// <summary>Per-rank private state (one row per writer rank). Collective.</summary>
    internal void AddRankState(RankStateArray state)
    {
        ValidName(state.Name);
        Add(state);
        _rankStates.Add(state);
    }

    /// <summary>Moves every row set's rows into id order (what a snapshot writes). Collective: before each capture or stage.</summary>
    internal void GatherRows()
    {
        foreach (var rows in _rowSets)
        {
            rows.Gather();
        }
    }

    /// <summary>After a snapshot was loaded: the row sets take their restored rows. Collective.</summary>
    internal void RowsLoaded()
    {
        foreach (var state in _rankStates)
        {
            state.Loaded();
        }

        foreach (var rows in _rowSets)
        {
            rows.Loaded();
        }
    }

    /// <summary>Every rank's host name, comma-separated in rank order (the snapshot attribute <c>hosts</c>). Collective.</summary>
    internal static string GatherHosts(Communicator comm) =>
        string.Join(',', GatherStrings(comm, MpiEnvironment.ProcessorName.Replace(',', '_')));

    /// <summary>Every rank's <paramref name="mine"/>, in rank order. Collective (two allgathers).</summary>
    internal static string[] GatherStrings(Communicator comm, string mine)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(mine);
        int[] lengths = comm.Allgather(bytes.Length);
        int[] offsets = new int[lengths.Length];
        for (int r = 1; r < lengths.Length; r++)
        {
            offsets[r] = offsets[r - 1] + lengths[r - 1];
        }

        byte[] all = new byte[offsets[^1] + lengths[^1]];
        comm.Allgatherv<byte>(bytes, all, lengths, offsets);
        return [.. lengths.Select((length, r) => Encoding.UTF8.GetString(all, offsets[r], length))];
    }

    /// <summary>The live state as it is now (the arrays themselves, the scalars' current values). Local.</summary>
    internal SnapshotContent Capture(int restartCount) => Capture(restartCount, _arrays, _parameters);

    /// <summary>
    /// A copy of the state as it is now, in <paramref name="staging"/> (one reusable buffer per array), for a
    /// snapshot that is written while the app goes on changing the original. Local.
    /// </summary>
    internal SnapshotContent Stage(int restartCount, ref byte[]?[]? staging)
    {
        staging ??= new byte[]?[_arrays.Count];
        var staged = new List<StateArray>(_arrays.Count);
        for (int i = 0; i < _arrays.Count; i++)
        {
            staged.Add(_arrays[i].Stage(ref staging[i]));
        }

        return Capture(restartCount, staged, new SortedDictionary<string, object>(_parameters, StringComparer.Ordinal));
    }

    /// <summary>Sets the registered scalars to the values a snapshot holds. Local.</summary>
    internal void RestoreScalars(IReadOnlyDictionary<string, double> values)
    {
        foreach (var (name, _, set) in _scalars)
        {
            set(values[name]);
        }
    }

    private SnapshotContent Capture(int restartCount, IReadOnlyList<StateArray> arrays, IReadOnlyDictionary<string, object> parameters) =>
        new(app, restartCount, arrays, parameters, [.. _scalars.Select(s => (s.Name, s.Get()))], hosts);

    private static string ValidName(string name)
    {
        if (string.IsNullOrEmpty(name) || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))
        {
            throw new ArgumentException($"'{name}' is not a valid name (letters, digits, '_', '-', '.').", nameof(name));
        }

        return name;
    }
}

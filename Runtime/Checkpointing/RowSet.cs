using System.Runtime.InteropServices;
using Coordinated.Mpi;

namespace Coordinated.Checkpointing;

/// <summary>
/// Variable-size per-rank state: rows that each carry a global id in [0, <see cref="GlobalRows"/>), held by whichever
/// rank the app likes (a molecular dynamics code: the atoms in its subdomain), so that each rank's row count changes as
/// rows move. Made by <see cref="Checkpointer.RegisterRows"/>; columns are added with <see cref="Add{T}"/>.
/// </summary>
/// <remarks>
/// <para>At a checkpoint each rank says how many rows it holds (the length of the id span it returns); the runtime moves
/// the rows over MPI (one MPI_Alltoallv) into global id order and writes each column as <c>/state/NAME</c> with shape
/// [rows, components], and the ids as <c>/state/IDNAME</c> (0, 1, 2, ...). A snapshot is therefore the same bytes
/// whichever ranks held which rows.</para>
/// <para>On restore each rank first receives a contiguous share of the global id order (rank r gets the ids of
/// <see cref="Partition.Block"/>); <see cref="Redistribute"/> then moves every row to the rank an app-supplied owner
/// function names (for example the rank whose subdomain holds the row's position).</para>
/// <para>Cost: one extra copy of the state (each rank's share in id order) and one all-to-all exchange per
/// checkpoint. The ids must be exactly 0 .. rows - 1, each held by one rank; a run whose row count changes over time
/// is not supported yet.</para>
/// </remarks>
public sealed class RowSet
{
    private readonly Communicator _comm;
    private readonly StateRegistry _registry;
    private readonly Func<ReadOnlyMemory<long>> _ids;
    private readonly long[] _idShare;
    private readonly List<Column> _columns = [];
    private readonly bool _storeIds;
    private long[] _restoredIds = [];

    internal RowSet(Communicator comm, StateRegistry registry, string idName, long globalRows, Func<ReadOnlyMemory<long>> ids, bool storeIds = true)
    {
        _comm = comm;
        _registry = registry;
        _ids = ids;
        IdName = idName;
        GlobalRows = globalRows;
        (First, ShareCount) = Partition.Block(globalRows, comm.Size, comm.Rank);
        _idShare = new long[ShareCount];
        _storeIds = storeIds;
        if (storeIds)
        {
            registry.AddArray(idName, _idShare.AsMemory(), First, globalRows, 1);
        }
    }

    /// <summary>Called (collectively) at the end of a restore, after the rows are in <see cref="RestoredIds"/>: e.g. to move them into place.</summary>
    internal Action? AfterLoad { get; set; }

    /// <summary>Name of the id dataset.</summary>
    public string IdName { get; }

    /// <summary>Rows in the whole set (all ranks together).</summary>
    public long GlobalRows { get; }

    /// <summary>True after <see cref="Checkpointer.Restore"/> loaded a snapshot: the restored rows are then in <see cref="RestoredIds"/> and <see cref="Restored{T}"/>.</summary>
    public bool IsRestored { get; private set; }

    /// <summary>Ids of the rows this rank holds after a restore (ascending), until the app takes them over. Local.</summary>
    public ReadOnlySpan<long> RestoredIds => _restoredIds;

    private long First { get; }

    private long ShareCount { get; }

    /// <summary>
    /// Adds a column saved as <c>/state/NAME</c>, shape [rows, components]. <paramref name="local"/> is called at each
    /// checkpoint and must return this rank's rows (row-major, in the same order as the ids). Collective.
    /// </summary>
    /// <typeparam name="T">As <see cref="Checkpointer.Register{T}(string, Memory{T}, long, long, int)"/>: a primitive or a struct of one primitive.</typeparam>
    public void Add<T>(string name, int components, Func<Memory<T>> local) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(local);
        ArgumentOutOfRangeException.ThrowIfLessThan(components, 1);
        var share = new T[ShareCount * components];
        _registry.AddArray(name, share.AsMemory(), First, GlobalRows, components);
        _columns.Add(new Column(name, System.Runtime.CompilerServices.Unsafe.SizeOf<T>() * components, () => MemoryMarshal.AsBytes(local().Span), () => MemoryMarshal.AsBytes(share.AsSpan())));
    }

    /// <summary>This rank's restored values of column <paramref name="name"/> (row-major, rows as <see cref="RestoredIds"/>). Local.</summary>
    public ReadOnlySpan<T> Restored<T>(string name) where T : unmanaged
    {
        var column = _columns.Find(c => c.Name == name) ?? throw new ArgumentException($"no column '{name}' in row set '{IdName}'.", nameof(name));
        if (!IsRestored)
        {
            throw new InvalidOperationException("nothing was restored.");
        }

        return MemoryMarshal.Cast<byte, T>(column.Restored);
    }

    /// <summary>
    /// Moves each restored row to rank <paramref name="ownerOf"/>(k), where k indexes <see cref="RestoredIds"/> (read the
    /// row's columns with <see cref="Restored{T}"/> to decide). Afterwards every rank holds its rows in ascending id
    /// order. Collective.
    /// </summary>
    public void Redistribute(Func<int, int> ownerOf)
    {
        ArgumentNullException.ThrowIfNull(ownerOf);
        if (!IsRestored)
        {
            throw new InvalidOperationException("nothing was restored.");
        }

        int rows = _restoredIds.Length;
        int[] destination = new int[rows];
        string? error = null;
        for (int k = 0; k < rows; k++)
        {
            destination[k] = ownerOf(k);
            if ((uint)destination[k] >= (uint)_comm.Size)
            {
                error ??= $"the owner function put row {_restoredIds[k]} on rank {destination[k]}, which does not exist ({_comm.Size} ranks)";
            }
        }

        ThrowIfAny(error);
        var (ids, columns) = Exchange(_restoredIds, c => _columns[c].Restored, destination);
        _restoredIds = ids;
        for (int c = 0; c < _columns.Count; c++)
        {
            _columns[c].Restored = columns[c];
        }
    }

    /// <summary>Moves the app's current rows into this rank's id-ordered share (what the snapshot writes). Collective.</summary>
    internal void Gather()
    {
        ReadOnlyMemory<long> ids = _ids();
        string? error = null;
        int[] destination = new int[ids.Length];
        for (int k = 0; k < ids.Length; k++)
        {
            long id = ids.Span[k];
            if (id < 0 || id >= GlobalRows)
            {
                error ??= $"row set '{IdName}': id {id} is outside [0, {GlobalRows})";
                continue;
            }

            destination[k] = OwnerOfShare(id);
        }

        for (int c = 0; c < _columns.Count && error is null; c++)
        {
            int length = _columns[c].Live().Length;
            if (length != ids.Length * _columns[c].RowBytes)
            {
                error = $"row set '{IdName}': column '{_columns[c].Name}' has {length / _columns[c].RowBytes} rows, the ids {ids.Length}";
            }
        }

        ThrowIfAny(error);
        var (received, columns) = Exchange(ids.ToArray(), c => _columns[c].Live(), destination);
        bool[] seen = new bool[ShareCount];
        for (int k = 0; k < received.Length; k++)
        {
            long slot = received[k] - First;
            if (seen[slot])
            {
                error ??= $"row set '{IdName}': id {received[k]} is held by more than one rank";
            }

            seen[slot] = true;
        }

        if (error is null && received.Length != ShareCount)
        {
            error = $"row set '{IdName}': {ShareCount - received.Length} ids of [{First}, {First + ShareCount}) are held by no rank";
        }

        ThrowIfAny(error);
        for (int k = 0; k < received.Length; k++)
        {
            long slot = received[k] - First;
            _idShare[slot] = received[k];
            for (int c = 0; c < _columns.Count; c++)
            {
                int size = _columns[c].RowBytes;
                columns[c].AsSpan(k * size, size).CopyTo(_columns[c].Share().Slice((int)(slot * size), size));
            }
        }
    }

    /// <summary>After a snapshot was loaded into the shares: they become the restored rows (contiguous share). Collective.</summary>
    internal void Loaded()
    {
        string? error = null;
        for (long k = 0; k < ShareCount; k++)
        {
            if (!_storeIds)
            {
                _idShare[k] = First + k; // ids implicit: the row's place in the dataset
            }
            else if (_idShare[k] != First + k)
            {
                error ??= $"row set '{IdName}': the snapshot's id at row {First + k} is {_idShare[k]}; the rows are not in id order";
            }
        }

        if (_comm.Allreduce(error is null ? 0 : 1, ReduceOp.Max) != 0)
        {
            throw new CoordinatedException(error ?? $"row set '{IdName}': the snapshot's ids are not in order", ExitCodes.DataError, isCollective: true);
        }

        _restoredIds = (long[])_idShare.Clone();
        foreach (var column in _columns)
        {
            column.Restored = column.Share().ToArray();
        }

        IsRestored = true;
        AfterLoad?.Invoke();
    }

    /// <summary>Rank holding <paramref name="id"/> in the contiguous share (inverse of <see cref="Partition.Block"/>).</summary>
    private int OwnerOfShare(long id)
    {
        long size = _comm.Size, baseCount = GlobalRows / size, extra = GlobalRows % size;
        long boundary = extra * (baseCount + 1);
        return (int)(id < boundary ? id / (baseCount + 1) : extra + ((id - boundary) / baseCount));
    }

    /// <summary>Sends row k (its id and each column's bytes) to rank <paramref name="destination"/>[k]; returns what arrived, in source-rank order. Collective.</summary>
    private (long[] Ids, byte[][] Columns) Exchange(long[] ids, ColumnBytes columns, int[] destination)
    {
        int size = _comm.Size, rowBytes = 8 + _columns.Sum(c => c.RowBytes);
        int[] sendRows = new int[size];
        foreach (int d in destination)
        {
            sendRows[d]++;
        }

        int[] receiveRows = _comm.Alltoall<int>(sendRows);
        int[] sendCounts = new int[size], sendDispls = new int[size], receiveCounts = new int[size], receiveDispls = new int[size];
        int[] cursor = new int[size];
        for (int r = 0; r < size; r++)
        {
            sendCounts[r] = checked(sendRows[r] * rowBytes);
            receiveCounts[r] = checked(receiveRows[r] * rowBytes);
            if (r > 0)
            {
                sendDispls[r] = sendDispls[r - 1] + sendCounts[r - 1];
                receiveDispls[r] = receiveDispls[r - 1] + receiveCounts[r - 1];
                cursor[r] = sendDispls[r];
            }
        }

        byte[] send = new byte[ids.Length * (long)rowBytes];
        for (int k = 0; k < ids.Length; k++)
        {
            Span<byte> row = send.AsSpan(cursor[destination[k]], rowBytes);
            cursor[destination[k]] += rowBytes;
            MemoryMarshal.Write(row, in ids[k]);
            int offset = 8;
            for (int c = 0; c < _columns.Count; c++)
            {
                int width = _columns[c].RowBytes;
                columns(c).Slice(k * width, width).CopyTo(row[offset..]);
                offset += width;
            }
        }

        int total = receiveRows.Sum();
        byte[] receive = new byte[total * (long)rowBytes];
        _comm.Alltoallv<byte>(send, sendCounts, sendDispls, receive, receiveCounts, receiveDispls);
        long[] receivedIds = new long[total];
        byte[][] receivedColumns = _columns.Select(c => new byte[total * (long)c.RowBytes]).ToArray();
        for (int k = 0; k < total; k++)
        {
            ReadOnlySpan<byte> row = receive.AsSpan(k * rowBytes, rowBytes);
            receivedIds[k] = MemoryMarshal.Read<long>(row);
            int offset = 8;
            for (int c = 0; c < _columns.Count; c++)
            {
                int width = _columns[c].RowBytes;
                row.Slice(offset, width).CopyTo(receivedColumns[c].AsSpan(k * width));
                offset += width;
            }
        }

        return (receivedIds, receivedColumns);
    }

    private void ThrowIfAny(string? error)
    {
        if (_comm.Allreduce(error is null ? 0 : 1, ReduceOp.Max) != 0)
        {
            throw new CoordinatedException(
                (error ?? $"row set '{IdName}': another rank's rows are inconsistent") + "; this is a bug in the app's row bookkeeping.",
                ExitCodes.Failure, isCollective: true);
        }
    }

    private delegate Span<byte> ByteSpan();

    private delegate ReadOnlySpan<byte> ColumnBytes(int column);

    private sealed class Column(string name, int rowBytes, ByteSpan live, ByteSpan share)
    {
        internal string Name { get; } = name;

        internal int RowBytes { get; } = rowBytes;

        internal ByteSpan Live { get; } = live;

        internal ByteSpan Share { get; } = share;

        internal byte[] Restored { get; set; } = [];
    }
}

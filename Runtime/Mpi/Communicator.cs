using System.Runtime.InteropServices;
using static Coordinated.Interop.Mpi;

namespace Coordinated.Mpi;

/// <summary>Reduction operators supported by <see cref="Communicator"/>.</summary>
public enum ReduceOp
{
    /// <summary>MPI_SUM</summary>
    Sum,
    /// <summary>MPI_MAX</summary>
    Max,
    /// <summary>MPI_MIN</summary>
    Min,
}

/// <summary>
/// A thin view of an MPI communicator. Every method documented as collective must be called by all ranks
/// of the communicator, in the same order.
/// </summary>
public sealed unsafe class Communicator
{
    private Communicator(nint handle)
    {
        Handle = handle;
        MpiException.ThrowIfError(MPI_Comm_rank(handle, out int rank));
        MpiException.ThrowIfError(MPI_Comm_size(handle, out int size));
        Rank = rank;
        Size = size;
    }

    /// <summary>MPI_COMM_WORLD, with MPI_ERRORS_RETURN installed. Valid after <see cref="MpiEnvironment.Initialize"/>.</summary>
    public static Communicator World => s_world ?? throw new InvalidOperationException("MPI is not initialised; call MpiEnvironment.Initialize first.");

    private static Communicator? s_world;

    internal static void InitializeWorld()
    {
        MpiException.ThrowIfError(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
        s_world = new Communicator(MPI_COMM_WORLD);
    }

    /// <summary>The raw <c>MPI_Comm</c>.</summary>
    internal nint Handle { get; }

    /// <summary>This process's rank.</summary>
    public int Rank { get; }

    /// <summary>Number of ranks.</summary>
    public int Size { get; }

    /// <summary>True on rank 0.</summary>
    public bool IsRoot => Rank == 0;

    /// <summary>
    /// MPI_Comm_dup: the same ranks with a separate message space, so collectives on the copy (e.g. from an I/O
    /// thread) never match those on this one. It lives until MPI_Finalize. Collective.
    /// </summary>
    public Communicator Duplicate()
    {
        MpiException.ThrowIfError(MPI_Comm_dup(Handle, out nint copy));
        MpiException.ThrowIfError(MPI_Comm_set_errhandler(copy, MPI_ERRORS_RETURN));
        return new Communicator(copy);
    }

    /// <summary>MPI_Barrier. Collective.</summary>
    public void Barrier() => MpiException.ThrowIfError(MPI_Barrier(Handle));

    /// <summary>MPI_Allreduce of one value. Collective.</summary>
    public T Allreduce<T>(T value, ReduceOp op) where T : unmanaged
    {
        T result = default;
        MpiException.ThrowIfError(MPI_Allreduce(&value, &result, 1, DatatypeOf<T>(), OpOf(op), Handle));
        return result;
    }

    /// <summary>MPI_Allreduce of a span, in place. Collective.</summary>
    public void Allreduce<T>(Span<T> values, ReduceOp op) where T : unmanaged
    {
        fixed (T* p = values)
        {
            // MPI_IN_PLACE is ((void*)1) in Open MPI.
            MpiException.ThrowIfError(MPI_Allreduce((void*)1, p, values.Length, DatatypeOf<T>(), OpOf(op), Handle));
        }
    }

    /// <summary>MPI_Bcast of a span from <paramref name="root"/>. Collective.</summary>
    public void Broadcast<T>(Span<T> values, int root) where T : unmanaged
    {
        fixed (T* p = values)
        {
            MpiException.ThrowIfError(MPI_Bcast(p, values.Length * sizeof(T), MPI_BYTE, root, Handle));
        }
    }

    /// <summary>Broadcasts a string from <paramref name="root"/> (null allowed). Collective.</summary>
    public string? Broadcast(string? value, int root)
    {
        byte[] bytes = Rank == root && value is not null ? System.Text.Encoding.UTF8.GetBytes(value) : [];
        int length = Rank == root ? (value is null ? -1 : bytes.Length) : 0;
        Broadcast(new Span<int>(ref length), root);
        if (length < 0)
        {
            return null;
        }

        if (Rank != root)
        {
            bytes = new byte[length];
        }

        Broadcast<byte>(bytes, root);
        return System.Text.Encoding.UTF8.GetString(bytes);
    }

    /// <summary>MPI_Allgather of one value per rank. Collective.</summary>
    public T[] Allgather<T>(T value) where T : unmanaged
    {
        var result = new T[Size];
        fixed (T* r = result)
        {
            MpiException.ThrowIfError(MPI_Allgather(&value, sizeof(T), MPI_BYTE, r, sizeof(T), MPI_BYTE, Handle));
        }

        return result;
    }

    /// <summary>
    /// MPI_Allgatherv: every rank contributes <paramref name="local"/>; <paramref name="all"/> receives the
    /// contributions in rank order with the given element counts and displacements. Collective.
    /// </summary>
    public void Allgatherv<T>(ReadOnlySpan<T> local, Span<T> all, ReadOnlySpan<int> counts, ReadOnlySpan<int> displacements)
        where T : unmanaged
    {
        if (counts.Length != Size || displacements.Length != Size)
        {
            throw new ArgumentException($"counts and displacements need one entry per rank ({Size}).");
        }

        // Counted in bytes so that any unmanaged T works; fine for up to 2 GiB per rank.
        Span<int> byteCounts = Size <= 256 ? stackalloc int[Size] : new int[Size];
        Span<int> byteDispls = Size <= 256 ? stackalloc int[Size] : new int[Size];
        for (int r = 0; r < Size; r++)
        {
            byteCounts[r] = checked(counts[r] * sizeof(T));
            byteDispls[r] = checked(displacements[r] * sizeof(T));
        }

        fixed (T* s = local)
        fixed (T* a = all)
        fixed (int* c = byteCounts)
        fixed (int* d = byteDispls)
        {
            MpiException.ThrowIfError(MPI_Allgatherv(s, checked(local.Length * sizeof(T)), MPI_BYTE, a, c, d, MPI_BYTE, Handle));
        }
    }

    /// <summary>
    /// MPI_Allgatherv with MPI_IN_PLACE: on entry this rank's block of <paramref name="all"/> (at its displacement)
    /// holds its contribution; on return every block holds its owner's. Collective.
    /// </summary>
    public void AllgathervInPlace<T>(Span<T> all, ReadOnlySpan<int> counts, ReadOnlySpan<int> displacements)
        where T : unmanaged
    {
        if (counts.Length != Size || displacements.Length != Size)
        {
            throw new ArgumentException($"counts and displacements need one entry per rank ({Size}).");
        }

        Span<int> byteCounts = Size <= 256 ? stackalloc int[Size] : new int[Size];
        Span<int> byteDispls = Size <= 256 ? stackalloc int[Size] : new int[Size];
        for (int r = 0; r < Size; r++)
        {
            byteCounts[r] = checked(counts[r] * sizeof(T));
            byteDispls[r] = checked(displacements[r] * sizeof(T));
        }

        fixed (T* a = all)
        fixed (int* c = byteCounts)
        fixed (int* d = byteDispls)
        {
            // MPI_IN_PLACE is ((void*)1) in Open MPI; send count and type are ignored.
            MpiException.ThrowIfError(MPI_Allgatherv((void*)1, 0, MPI_BYTE, a, c, d, MPI_BYTE, Handle));
        }
    }

    /// <summary>
    /// MPI_Sendrecv: sends <paramref name="send"/> to <paramref name="destination"/> and receives exactly
    /// <paramref name="receive"/>.Length elements from <paramref name="source"/> (exchange the counts first when they
    /// vary). Point to point: the two partners must call it with matching sizes.
    /// </summary>
    public void SendReceive<T>(ReadOnlySpan<T> send, int destination, Span<T> receive, int source, int tag = 0)
        where T : unmanaged
    {
        fixed (T* s = send)
        fixed (T* r = receive)
        {
            MpiException.ThrowIfError(MPI_Sendrecv(
                s, checked(send.Length * sizeof(T)), MPI_BYTE, destination, tag,
                r, checked(receive.Length * sizeof(T)), MPI_BYTE, source, tag, Handle, null));
        }
    }

    /// <summary>MPI_Alltoall of one value per destination rank: returns what each rank sent to this one. Collective.</summary>
    public T[] Alltoall<T>(ReadOnlySpan<T> values) where T : unmanaged
    {
        if (values.Length != Size)
        {
            throw new ArgumentException($"Alltoall needs one value per rank ({Size}), got {values.Length}.");
        }

        var result = new T[Size];
        fixed (T* s = values)
        fixed (T* r = result)
        {
            MpiException.ThrowIfError(MPI_Alltoall(s, sizeof(T), MPI_BYTE, r, sizeof(T), MPI_BYTE, Handle));
        }

        return result;
    }

    /// <summary>
    /// MPI_Alltoallv: block r of <paramref name="send"/> (element counts <paramref name="sendCounts"/>, displacements
    /// <paramref name="sendDisplacements"/>) goes to rank r; block r of <paramref name="receive"/> comes from rank r.
    /// Counted in bytes, so any unmanaged T works up to 2 GiB per rank pair. Collective.
    /// </summary>
    public void Alltoallv<T>(ReadOnlySpan<T> send, ReadOnlySpan<int> sendCounts, ReadOnlySpan<int> sendDisplacements,
        Span<T> receive, ReadOnlySpan<int> receiveCounts, ReadOnlySpan<int> receiveDisplacements) where T : unmanaged
    {
        if (sendCounts.Length != Size || sendDisplacements.Length != Size || receiveCounts.Length != Size || receiveDisplacements.Length != Size)
        {
            throw new ArgumentException($"counts and displacements need one entry per rank ({Size}).");
        }

        int[] bytes = new int[4 * Size];
        for (int r = 0; r < Size; r++)
        {
            bytes[r] = checked(sendCounts[r] * sizeof(T));
            bytes[Size + r] = checked(sendDisplacements[r] * sizeof(T));
            bytes[(2 * Size) + r] = checked(receiveCounts[r] * sizeof(T));
            bytes[(3 * Size) + r] = checked(receiveDisplacements[r] * sizeof(T));
        }

        fixed (T* s = send)
        fixed (T* r = receive)
        fixed (int* b = bytes)
        {
            MpiException.ThrowIfError(MPI_Alltoallv(s, b, b + Size, MPI_BYTE, r, b + (2 * Size), b + (3 * Size), MPI_BYTE, Handle));
        }
    }

    /// <summary>MPI_Abort: ends every rank of the job with <paramref name="errorCode"/>. Does not return.</summary>
    public void Abort(int errorCode) => MPI_Abort(Handle, errorCode);

    private static nint DatatypeOf<T>() where T : unmanaged =>
        typeof(T) == typeof(int) ? MPI_INT
        : typeof(T) == typeof(long) ? MPI_INT64_T
        : typeof(T) == typeof(double) ? MPI_DOUBLE
        : throw new NotSupportedException($"No MPI datatype mapping for {typeof(T).Name}; use int, long or double.");

    private static nint OpOf(ReduceOp op) => op switch
    {
        ReduceOp.Sum => MPI_SUM,
        ReduceOp.Max => MPI_MAX,
        ReduceOp.Min => MPI_MIN,
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };
}

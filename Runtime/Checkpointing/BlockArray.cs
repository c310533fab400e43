using Coordinated.Mpi;

namespace Coordinated.Checkpointing;

/// <summary>
/// A rank's block of a global N-d array (a stencil code's subdomain): global shape, the block's start and count in each
/// dimension, and a halo of <c>halo</c> cells on every side in memory that is not saved. Saved as <c>/state/NAME</c>,
/// the whole array flattened in row-major (C) order (<c>numpy.reshape(shape)</c> gives it back), with the shape as the
/// parameter <c>NAME_shape</c>; restored onto whatever blocks the ranks of the next run register (another rank count,
/// another decomposition): each element is moved over MPI to the rank whose block holds it. Halo cells are not restored;
/// exchange them after <see cref="Checkpointer.Restore"/> as after any step.
/// </summary>
internal sealed class BlockArray<T> where T : unmanaged
{
    private readonly Memory<T> _local;
    private readonly long[] _shape;
    private readonly long[] _start;
    private readonly long[] _count;
    private readonly int _halo;
    private readonly long[] _ids;
    private readonly T[] _packed;
    private readonly long[][] _starts;
    private readonly long[][] _counts;
    private readonly RowSet _rows;

    internal BlockArray(Communicator comm, StateRegistry registry, string name, Memory<T> local, long[] shape, long[] start, long[] count, int halo)
    {
        int dims = shape.Length;
        if (dims < 1 || dims > 8 || start.Length != dims || count.Length != dims)
        {
            throw new ArgumentException($"block '{name}': shape, start and count need the same number of dimensions (1 to 8).");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(halo);
        long memory = 1, interior = 1, total = 1;
        for (int d = 0; d < dims; d++)
        {
            if (shape[d] < 1 || start[d] < 0 || count[d] < 0 || start[d] + count[d] > shape[d])
            {
                throw new ArgumentException($"block '{name}': dimension {d}: [{start[d]}, {start[d] + count[d]}) does not fit a global extent of {shape[d]}.");
            }

            memory *= count[d] + (2 * halo);
            interior *= count[d];
            total *= shape[d];
        }

        if (local.Length != memory)
        {
            throw new ArgumentException($"block '{name}': {local.Length} values in memory, but a block of ({string.Join(" x ", count.Select(c => c + (2 * halo)))}) with halo {halo} has {memory}.");
        }

        _local = local;
        _shape = shape;
        _start = start;
        _count = count;
        _halo = halo;
        _starts = new long[comm.Size][];
        _counts = new long[comm.Size][];
        for (int r = 0; r < comm.Size; r++)
        {
            _starts[r] = new long[dims];
            _counts[r] = new long[dims];
        }

        for (int d = 0; d < dims; d++)
        {
            long[] s = comm.Allgather(start[d]), c = comm.Allgather(count[d]);
            for (int r = 0; r < comm.Size; r++)
            {
                _starts[r][d] = s[r];
                _counts[r][d] = c[r];
            }
        }

        if (comm.Allreduce(interior, ReduceOp.Sum) != total || Overlap() is not null)
        {
            throw new CoordinatedException(
                $"block '{name}': the ranks' blocks do not tile the global array of shape ({string.Join(", ", shape)}); this is a bug in the app's decomposition.",
                ExitCodes.Failure, isCollective: true);
        }

        _ids = new long[interior];
        _packed = new T[interior];
        long k = 0;
        ForEachInterior((linear, _) => _ids[k++] = linear);
        registry.AddParameter(name + "_shape", string.Join(",", shape));
        _rows = registry.AddRows(name, total, () => _ids, storeIds: false);
        _rows.Add(name, 1, Pack);
        _rows.AfterLoad = Unpack;
    }

    private int? Overlap()
    {
        for (int a = 0; a < _starts.Length; a++)
        {
            for (int b = a + 1; b < _starts.Length; b++)
            {
                bool disjoint = false;
                for (int d = 0; d < _shape.Length; d++)
                {
                    disjoint |= _counts[a][d] == 0 || _counts[b][d] == 0
                        || _starts[a][d] + _counts[a][d] <= _starts[b][d] || _starts[b][d] + _counts[b][d] <= _starts[a][d];
                }

                if (!disjoint)
                {
                    return b;
                }
            }
        }

        return null;
    }

    /// <summary>Calls <paramref name="visit"/>(global linear index, local memory index) for each interior element, in row-major order.</summary>
    private void ForEachInterior(Action<long, long> visit)
    {
        int dims = _shape.Length;
        long[] index = new long[dims];
        long interior = _count.Aggregate(1L, (a, c) => a * c);
        for (long n = 0; n < interior; n++)
        {
            long linear = 0, offset = 0;
            for (int d = 0; d < dims; d++)
            {
                linear = (linear * _shape[d]) + _start[d] + index[d];
                offset = (offset * (_count[d] + (2 * _halo))) + _halo + index[d];
            }

            visit(linear, offset);
            for (int d = dims - 1; d >= 0; d--)
            {
                if (++index[d] < _count[d])
                {
                    break;
                }

                index[d] = 0;
            }
        }
    }

    private Memory<T> Pack()
    {
        long k = 0;
        var packed = _packed;
        var local = _local;
        ForEachInterior((_, offset) => packed[k++] = local.Span[(int)offset]);
        return _packed;
    }

    /// <summary>Moves each restored element to the rank whose block holds it, then into that rank's memory (halo untouched).</summary>
    private void Unpack()
    {
        int dims = _shape.Length;
        var ids = _rows.RestoredIds.ToArray();
        long[] index = new long[dims];
        _rows.Redistribute(k =>
        {
            long rest = ids[k];
            for (int d = dims - 1; d >= 0; d--)
            {
                index[d] = rest % _shape[d];
                rest /= _shape[d];
            }

            for (int r = 0; r < _starts.Length; r++)
            {
                bool inside = true;
                for (int d = 0; d < dims && inside; d++)
                {
                    inside = index[d] >= _starts[r][d] && index[d] < _starts[r][d] + _counts[r][d];
                }

                if (inside)
                {
                    return r;
                }
            }

            return -1;
        });

        var values = _rows.Restored<T>(_rows.IdName);
        var mine = _rows.RestoredIds;
        var local = _local.Span;
        for (int k = 0; k < mine.Length; k++)
        {
            long rest = mine[k], offset = 0, stride = 1;
            for (int d = dims - 1; d >= 0; d--)
            {
                long i = (rest % _shape[d]) - _start[d];
                rest /= _shape[d];
                offset += (i + _halo) * stride;
                stride *= _count[d] + (2 * _halo);
            }

            local[(int)offset] = values[k];
        }
    }
}

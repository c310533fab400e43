using System.Runtime.CompilerServices;
using Coordinated.Mpi;

namespace Coordinated.Apps.MD.Physics;

/// <summary>
/// One rank's part of a spatially decomposed Lennard-Jones run: the atoms in its subdomain (local), images of atoms
/// within cutoff + skin of it (ghosts, filled by halo exchange with the six face neighbours, dimension by dimension, as
/// in LAMMPS), full neighbour lists, velocity Verlet.
/// </summary>
/// <remarks>
/// <para>Bitwise reproducibility on any rank count and across restarts rests on three rules:</para>
/// <list type="number">
/// <item>Each atom's force is summed over its <b>full</b> neighbour list in ascending neighbour global id, one pair at
/// a time; pairs beyond the cutoff add an exact zero, which leaves a sum unchanged. The list of an atom is the same set
/// on every decomposition, so the sum is the same sequence of floating-point additions. Newton's third law is not used:
/// every pair is computed twice (the cost of determinism, see docs/BENCHMARKS.md).</item>
/// <item>Ownership, ghost images and lists are decided only at rebuild steps (every <see cref="LjSystem.RebuildEvery"/>
/// steps), from the positions wrapped into the box at that step; those reference positions are kept
/// (<see cref="ReferencePositions"/>) and checkpointed, so a restart between rebuilds rebuilds exactly the same lists.</item>
/// <item>A ghost coordinate is its owner's coordinate plus a periodic shift, one addition per coordinate, whichever
/// rank computes it; positions and velocities are updated atom by atom.</item>
/// </list>
/// </remarks>
internal sealed unsafe class Simulation
{
    private readonly LjSystem _system;
    private readonly DomainGrid _grid;
    private readonly Communicator? _comm;
    private readonly double _rc2;
    private readonly double _rg;
    private readonly List<Swap> _swaps = [];

    private double[] _pos = new double[3 * 64];   // locals then ghosts
    private double[] _ref = new double[3 * 64];   // reference positions of the last rebuild, locals then ghosts
    private double[] _vel = new double[3 * 64];   // locals
    private double[] _force = new double[3 * 64]; // locals
    private long[] _id = new long[64];            // locals then ghosts
    private int _local;
    private int _ghost;
    private int[] _neighborStart = new int[65];
    private int[] _neighborEnd = new int[65];
    private int[] _localBinStart = [0];
    private int _capacity;
    private int[] _neighbors = new int[1024];
    private double[] _buffer = new double[1024];
    private readonly double[] _binOrigin = new double[3];
    private readonly double[] _binWidth = new double[3];
    private readonly int[] _bins = new int[3];

    internal Simulation(LjSystem system, DomainGrid grid, Communicator? comm)
    {
        if (grid.Ranks > 1 && comm is null)
        {
            throw new ArgumentException("a communicator is needed for more than one rank", nameof(comm));
        }

        _system = system;
        _grid = grid;
        _comm = comm;
        _rc2 = system.Cutoff * system.Cutoff;
        _rg = system.GhostCutoff;
    }

    /// <summary>Atoms owned by this rank.</summary>
    internal int LocalCount => _local;

    /// <summary>Ghost images held by this rank.</summary>
    internal int GhostCount => _ghost;

    /// <summary>Atoms received from other ranks by migration since the start of this process.</summary>
    internal long MigratedIn { get; private set; }

    /// <summary>Seconds spent in the force loop (like LAMMPS's "Pair").</summary>
    internal double ForceSeconds { get; private set; }

    /// <summary>Seconds spent in rebuilds: wrap, migration, ghosts, neighbour lists (like LAMMPS's "Neigh").</summary>
    internal double RebuildSeconds { get; private set; }

    /// <summary>Seconds spent refreshing ghost positions between rebuilds (like LAMMPS's "Comm").</summary>
    internal double HaloSeconds { get; private set; }

    /// <summary>Neighbour pairs in the lists of the local atoms (each pair counted from both sides).</summary>
    internal long NeighborPairs
    {
        get
        {
            long pairs = 0;
            for (int i = 0; i < _local; i++)
            {
                pairs += _neighborEnd[i] - _neighborStart[i];
            }

            return pairs;
        }
    }

    internal Memory<double> Positions => _pos.AsMemory(0, 3 * _local);

    internal Memory<double> Velocities => _vel.AsMemory(0, 3 * _local);

    internal Memory<double> ReferencePositions => _ref.AsMemory(0, 3 * _local);

    internal Memory<double> Forces => _force.AsMemory(0, 3 * _local);

    internal Memory<long> Ids => _id.AsMemory(0, _local);

    /// <summary>The lattice start: every rank computes all atoms and keeps those in its subdomain. Then <see cref="Setup"/>.</summary>
    internal void Initialize()
    {
        double[] velocities = Lattice.Velocities(_system);
        Span<double> xyz = stackalloc double[3];
        _local = 0;
        for (long id = 0; id < _system.Atoms; id++)
        {
            Lattice.Position(_system, id, xyz);
            if (_grid.OwnerOf(xyz[0], xyz[1], xyz[2]) != _grid.Rank)
            {
                continue;
            }

            EnsureLocal(_local + 1);
            xyz.CopyTo(_pos.AsSpan(3 * _local));
            xyz.CopyTo(_ref.AsSpan(3 * _local));
            velocities.AsSpan((int)(3 * id), 3).CopyTo(_vel.AsSpan(3 * _local));
            _id[_local++] = id;
        }

        Setup();
    }

    /// <summary>
    /// A restored state: this rank's atoms (the owner of each reference position must be this rank), with positions,
    /// velocities and the reference positions of the last rebuild. Then <see cref="Setup"/>.
    /// </summary>
    internal void Load(ReadOnlySpan<long> ids, ReadOnlySpan<double> pos, ReadOnlySpan<double> vel, ReadOnlySpan<double> reference)
    {
        _local = 0;
        _ghost = 0;
        EnsureLocal(ids.Length);
        for (int i = 0; i < ids.Length; i++)
        {
            if (_grid.OwnerOf(reference[3 * i], reference[(3 * i) + 1], reference[(3 * i) + 2]) != _grid.Rank)
            {
                throw new InvalidOperationException($"atom {ids[i]} was restored on rank {_grid.Rank}, which does not own its subdomain");
            }
        }

        ids.CopyTo(_id);
        pos.CopyTo(_pos);
        vel.CopyTo(_vel);
        reference.CopyTo(_ref);
        _local = ids.Length;
        Setup();
    }

    /// <summary>Builds ghosts and lists from the reference positions, fills the ghosts' current positions, computes forces.</summary>
    internal void Setup()
    {
        Plan();
        Forward();
        ComputeForces();
    }

    /// <summary>One velocity Verlet step; <paramref name="completed"/> is the step count after it (rebuilds when it is a multiple of the interval).</summary>
    internal void Step(long completed)
    {
        double dt = _system.Dt, half = 0.5 * dt;
        int n3 = 3 * _local;
        fixed (double* p = _pos, v = _vel, f = _force)
        {
            for (int k = 0; k < n3; k++)
            {
                v[k] += half * f[k];
                p[k] += dt * v[k];
            }
        }

        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        if (completed % _system.RebuildEvery == 0)
        {
            Rebuild();
            RebuildSeconds += System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        else
        {
            Forward();
            HaloSeconds += System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }

        long t1 = System.Diagnostics.Stopwatch.GetTimestamp();
        ComputeForces();
        ForceSeconds += System.Diagnostics.Stopwatch.GetElapsedTime(t1).TotalSeconds;
        n3 = 3 * _local; // a rebuild moves atoms between ranks
        fixed (double* v = _vel, f = _force)
        {
            for (int k = 0; k < n3; k++)
            {
                v[k] += half * f[k];
            }
        }
    }

    /// <summary>Wraps positions into the box, migrates atoms to the ranks that own them now, rebuilds ghosts and lists.</summary>
    internal void Rebuild()
    {
        for (int k = 0; k < 3 * _local; k++)
        {
            _pos[k] = _grid.Wrap(_pos[k]);
        }

        Migrate();
        Array.Copy(_pos, _ref, 3 * _local);
        Plan();
        Forward();
    }

    /// <summary>Kinetic and potential energy of the whole system, summed in 64.32 fixed point: the same bits on any rank count. Collective.</summary>
    internal (double Kinetic, double Potential) Energies()
    {
        Int128 kinetic = 0, potential = 0;
        const double scale = 4294967296.0;
        fixed (double* p = _pos, v = _vel)
        fixed (int* start = _neighborStart, stop = _neighborEnd, list = _neighbors)
        {
            for (int i = 0; i < _local; i++)
            {
                double vx = v[3 * i], vy = v[(3 * i) + 1], vz = v[(3 * i) + 2];
                kinetic += (Int128)(0.5 * ((vx * vx) + (vy * vy) + (vz * vz)) * scale);
                double xi = p[3 * i], yi = p[(3 * i) + 1], zi = p[(3 * i) + 2], e = 0;
                for (int k = start[i]; k < stop[i]; k++)
                {
                    int j = list[k];
                    double dx = xi - p[3 * j], dy = yi - p[(3 * j) + 1], dz = zi - p[(3 * j) + 2];
                    double r2 = (dx * dx) + (dy * dy) + (dz * dz);
                    if (r2 < _rc2)
                    {
                        double sr2 = 1.0 / r2, sr6 = sr2 * sr2 * sr2;
                        e += 2.0 * sr6 * (sr6 - 1.0); // half of 4 (r^-12 - r^-6): each pair is seen from both atoms
                    }
                }

                potential += (Int128)(e * scale);
            }
        }

        if (_comm is not null && _comm.Size > 1)
        {
            Int128[] k = _comm.Allgather(kinetic), u = _comm.Allgather(potential);
            kinetic = 0;
            potential = 0;
            for (int r = 0; r < k.Length; r++)
            {
                kinetic += k[r];
                potential += u[r];
            }
        }

        return ((double)kinetic / scale, (double)potential / scale);
    }

    /// <summary>
    /// Forces on the local atoms: for each atom, the pair forces of its neighbours in ascending global id, added one at a
    /// time (see the class remarks). Branch-free: a pair beyond the cutoff contributes +0 or -0, which leaves the sum as it is.
    /// </summary>
    internal void ComputeForces()
    {
        double rc2 = _rc2;
        fixed (double* p = _pos, f = _force)
        fixed (int* start = _neighborStart, stop = _neighborEnd, list = _neighbors)
        {
            for (int i = 0; i < _local; i++)
            {
                double xi = p[3 * i], yi = p[(3 * i) + 1], zi = p[(3 * i) + 2];
                double fx = 0, fy = 0, fz = 0;
                int end = stop[i];
                for (int k = start[i]; k < end; k++)
                {
                    double* pj = p + (3 * list[k]);
                    double dx = xi - pj[0], dy = yi - pj[1], dz = zi - pj[2];
                    double r2 = (dx * dx) + (dy * dy) + (dz * dz);
                    double sr2 = 1.0 / r2, sr6 = sr2 * sr2 * sr2;
                    double fpair = 48.0 * sr6 * (sr6 - 0.5) * sr2;
                    ulong inside = 0UL - Unsafe.BitCast<bool, byte>(r2 < rc2);
                    fpair = BitConverter.UInt64BitsToDouble(BitConverter.DoubleToUInt64Bits(fpair) & inside);
                    fx += dx * fpair;
                    fy += dy * fpair;
                    fz += dz * fpair;
                }

                f[3 * i] = fx;
                f[(3 * i) + 1] = fy;
                f[(3 * i) + 2] = fz;
            }
        }
    }

    /// <summary>True if every local atom's neighbour list is in strictly ascending global id (for tests). Local.</summary>
    internal bool NeighborListsAreInIdOrder()
    {
        for (int i = 0; i < _local; i++)
        {
            for (int k = _neighborStart[i] + 1; k < _neighborEnd[i]; k++)
            {
                if (_id[_neighbors[k]] <= _id[_neighbors[k - 1]])
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>Sends atoms that left the subdomain to the face neighbour, one dimension at a time (one hop per dimension).</summary>
    private void Migrate()
    {
        for (int d = 0; d < 3; d++)
        {
            if (_grid.Shape[d] == 1)
            {
                continue;
            }

            int p = _grid.Shape[d], me = _grid.Coord[d];
            foreach (int dir in (ReadOnlySpan<int>)[1, -1])
            {
                int target = (me + dir + p) % p;
                int count = 0;
                EnsureBuffer(7 * _local);
                int kept = 0;
                for (int i = 0; i < _local; i++)
                {
                    int cell = _grid.CellOf(_pos[(3 * i) + d], d);
                    if (cell != me && cell == target)
                    {
                        int o = 7 * count++;
                        _buffer[o] = BitConverter.Int64BitsToDouble(_id[i]);
                        _pos.AsSpan(3 * i, 3).CopyTo(_buffer.AsSpan(o + 1));
                        _vel.AsSpan(3 * i, 3).CopyTo(_buffer.AsSpan(o + 4));
                    }
                    else
                    {
                        if (kept != i)
                        {
                            _id[kept] = _id[i];
                            _pos.AsSpan(3 * i, 3).CopyTo(_pos.AsSpan(3 * kept));
                            _vel.AsSpan(3 * i, 3).CopyTo(_vel.AsSpan(3 * kept));
                        }

                        kept++;
                    }
                }

                _local = kept;
                double[] received = Exchange(_buffer.AsSpan(0, 7 * count), _grid.Neighbor(d, dir), _grid.Neighbor(d, -dir));
                int arrived = received.Length / 7;
                EnsureLocal(_local + arrived);
                for (int a = 0; a < arrived; a++)
                {
                    _id[_local] = BitConverter.DoubleToInt64Bits(received[7 * a]);
                    received.AsSpan((7 * a) + 1, 3).CopyTo(_pos.AsSpan(3 * _local));
                    received.AsSpan((7 * a) + 4, 3).CopyTo(_vel.AsSpan(3 * _local));
                    _local++;
                }

                MigratedIn += arrived;
            }
        }

        for (int i = 0; i < _local; i++)
        {
            if (_grid.OwnerOf(_pos[3 * i], _pos[(3 * i) + 1], _pos[(3 * i) + 2]) != _grid.Rank)
            {
                throw new InvalidOperationException(
                    $"atom {_id[i]} moved more than one subdomain between neighbour-list builds (now at {_pos[3 * i]:G6}, {_pos[(3 * i) + 1]:G6}, {_pos[(3 * i) + 2]:G6}); the run is unstable: use a smaller --dt");
            }
        }
    }

    /// <summary>
    /// From the reference positions: sorts the local atoms by bin (memory locality), builds the ghost exchange plan
    /// (six swaps, the second swap of a dimension forwarding ghosts of the earlier dimensions) and the neighbour lists.
    /// </summary>
    private void Plan()
    {
        for (int d = 0; d < 3; d++)
        {
            _binOrigin[d] = _grid.Lo[d] - _rg;
            double extent = _grid.Hi[d] - _grid.Lo[d] + (2 * _rg);
            _bins[d] = Math.Max(1, (int)Math.Floor(extent / (0.5 * _rg)));
            _binWidth[d] = extent / _bins[d];
        }

        SortLocalsByBin();
        BuildGhosts();
        BuildNeighborLists();
    }

    /// <summary>Bin of a reference position in the subdomain grown by cutoff + skin (bins at least half of cutoff + skin wide).</summary>
    private int BinOf(int atom)
    {
        int bx = Math.Clamp((int)((_ref[3 * atom] - _binOrigin[0]) / _binWidth[0]), 0, _bins[0] - 1);
        int by = Math.Clamp((int)((_ref[(3 * atom) + 1] - _binOrigin[1]) / _binWidth[1]), 0, _bins[1] - 1);
        int bz = Math.Clamp((int)((_ref[(3 * atom) + 2] - _binOrigin[2]) / _binWidth[2]), 0, _bins[2] - 1);
        return (((bx * _bins[1]) + by) * _bins[2]) + bz;
    }

    /// <summary>Orders the local atoms by bin (locality), leaving <see cref="_localBinStart"/>: bin b holds locals [start[b], start[b + 1]).</summary>
    private void SortLocalsByBin()
    {
        int binCount = _bins[0] * _bins[1] * _bins[2];
        int[] bin = new int[_local];
        int[] start = new int[binCount + 1];
        for (int i = 0; i < _local; i++)
        {
            bin[i] = BinOf(i);
            start[bin[i] + 1]++;
        }

        for (int b = 0; b < binCount; b++)
        {
            start[b + 1] += start[b];
        }

        int[] fill = start[..binCount];
        int[] order = new int[_local];
        for (int i = 0; i < _local; i++)
        {
            order[fill[bin[i]]++] = i;
        }

        Permute(_pos, 3, order);
        Permute(_ref, 3, order);
        Permute(_vel, 3, order);
        Permute(_id, 1, order);
        _localBinStart = start;
    }

    private void Permute<T>(T[] values, int width, int[] order)
    {
        var copy = values.AsSpan(0, width * _local).ToArray();
        for (int i = 0; i < order.Length; i++)
        {
            copy.AsSpan(width * order[i], width).CopyTo(values.AsSpan(width * i));
        }
    }

    private void BuildGhosts()
    {
        _swaps.Clear();
        _ghost = 0;
        for (int d = 0; d < 3; d++)
        {
            int candidates = _local + _ghost; // ghosts of earlier dimensions are forwarded; this dimension's are not
            foreach (int dir in (ReadOnlySpan<int>)[-1, 1])
            {
                int p = _grid.Shape[d];
                double shift = dir < 0
                    ? (_grid.Coord[d] == 0 ? _grid.Box : 0)
                    : (_grid.Coord[d] == p - 1 ? -_grid.Box : 0);
                var send = new List<int>();
                for (int i = 0; i < candidates; i++)
                {
                    double x = _ref[(3 * i) + d];
                    if (dir < 0 ? x < _grid.Lo[d] + _rg : x >= _grid.Hi[d] - _rg)
                    {
                        send.Add(i);
                    }
                }

                var swap = new Swap(d, shift, _grid.Neighbor(d, dir), _grid.Neighbor(d, -dir), [.. send]);
                EnsureBuffer(4 * swap.Send.Length);
                for (int s = 0; s < swap.Send.Length; s++)
                {
                    int i = swap.Send[s];
                    _ref.AsSpan(3 * i, 3).CopyTo(_buffer.AsSpan(4 * s));
                    _buffer[(4 * s) + d] += shift;
                    _buffer[(4 * s) + 3] = BitConverter.Int64BitsToDouble(_id[i]);
                }

                double[] received = Exchange(_buffer.AsSpan(0, 4 * swap.Send.Length), swap.To, swap.From);
                int arrived = received.Length / 4;
                swap.First = _local + _ghost;
                swap.Count = arrived;
                EnsureTotal(_local + _ghost + arrived);
                for (int a = 0; a < arrived; a++)
                {
                    int g = _local + _ghost + a;
                    received.AsSpan(4 * a, 3).CopyTo(_ref.AsSpan(3 * g));
                    _id[g] = BitConverter.DoubleToInt64Bits(received[(4 * a) + 3]);
                }

                _ghost += arrived;
                _swaps.Add(swap);
            }
        }
    }

    /// <summary>
    /// Full neighbour lists (every local atom lists all atoms within cutoff + skin) in ascending neighbour global id
    /// without sorting: atoms are visited in id order and each is appended to the lists of the local atoms near it.
    /// </summary>
    private void BuildNeighborLists()
    {
        int total = _local + _ghost;
        long[] keys = new long[total];
        int[] byId = new int[total];
        for (int i = 0; i < total; i++)
        {
            keys[i] = _id[i];
            byId[i] = i;
        }

        Array.Sort(keys, byId);

        double volume = 4.0 / 3.0 * Math.PI * _rg * _rg * _rg;
        int capacity = Math.Max(_capacity, (int)(2 * volume * _system.Atoms / Math.Pow(_grid.Box, 3)) + 16);
        while (true)
        {
            if (_neighborStart.Length < _local + 1)
            {
                _neighborStart = new int[_local + 1];
                _neighborEnd = new int[_local + 1];
            }

            if (_neighbors.Length < ((long)capacity * _local) + 1)
            {
                _neighbors = new int[checked((capacity * _local) + 1)]; // + 1: the branch-free fill stores one past a full list
            }

            for (int i = 0; i < _local; i++)
            {
                _neighborStart[i] = _neighborEnd[i] = i * capacity;
            }

            if (FillLists(byId, capacity))
            {
                _capacity = capacity;
                return;
            }

            capacity *= 2;
        }
    }

    /// <summary>
    /// Appends each atom j (in id order) to the lists of the local atoms within cutoff + skin of it. Bins are at least
    /// half that wide, so the candidates are within two bins in each direction; locals are sorted by bin with z fastest,
    /// so each (x, y) column of up to five bins is one contiguous range of local atoms. Returns false if a list filled up.
    /// </summary>
    private bool FillLists(int[] byId, int capacity)
    {
        double rg2 = _rg * _rg;
        bool full = false; // some list reached its capacity: the build is redone with twice the capacity
        int nb0 = _bins[0], nb1 = _bins[1], nb2 = _bins[2];
        fixed (double* r = _ref)
        fixed (int* start = _localBinStart, end = _neighborEnd, list = _neighbors)
        {
            foreach (int j in byId)
            {
                int b = BinOf(j);
                int bx = b / (nb1 * nb2), by = b / nb2 % nb1, bz = b % nb2;
                int z0 = Math.Max(0, bz - 2), z1 = Math.Min(nb2 - 1, bz + 2);
                double xj = r[3 * j], yj = r[(3 * j) + 1], zj = r[(3 * j) + 2];
                for (int x = Math.Max(0, bx - 2); x <= Math.Min(nb0 - 1, bx + 2); x++)
                {
                    for (int y = Math.Max(0, by - 2); y <= Math.Min(nb1 - 1, by + 2); y++)
                    {
                        int column = ((x * nb1) + y) * nb2;
                        int last = start[column + z1 + 1];
                        for (int i = start[column + z0]; i < last; i++)
                        {
                            // Branch-free: always store, advance only for a neighbour (a branch here mispredicts often).
                            double dx = r[3 * i] - xj, dy = r[(3 * i) + 1] - yj, dz = r[(3 * i) + 2] - zj;
                            int e = end[i];
                            list[e] = j;
                            e += Unsafe.BitCast<bool, byte>(((dx * dx) + (dy * dy) + (dz * dz) < rg2) & (i != j));
                            end[i] = e;
                            full |= e - (i * capacity) == capacity;
                        }
                    }
                }
            }
        }

        return !full;
    }

    /// <summary>Refreshes every ghost's position from its owner's current position (the swaps of the last plan, in order).</summary>
    private void Forward()
    {
        EnsureTotal(_local + _ghost);
        foreach (var swap in _swaps)
        {
            EnsureBuffer(3 * swap.Send.Length);
            for (int s = 0; s < swap.Send.Length; s++)
            {
                int i = swap.Send[s];
                _buffer[3 * s] = _pos[3 * i];
                _buffer[(3 * s) + 1] = _pos[(3 * i) + 1];
                _buffer[(3 * s) + 2] = _pos[(3 * i) + 2];
                _buffer[(3 * s) + swap.Dim] += swap.Shift;
            }

            Span<double> target = _pos.AsSpan(3 * swap.First, 3 * swap.Count);
            if (swap.To == _grid.Rank && swap.From == _grid.Rank)
            {
                _buffer.AsSpan(0, 3 * swap.Send.Length).CopyTo(target);
            }
            else
            {
                _comm!.SendReceive<double>(_buffer.AsSpan(0, 3 * swap.Send.Length), swap.To, target, swap.From, tag: 1);
            }
        }
    }

    /// <summary>Sends <paramref name="send"/> to <paramref name="to"/> and receives whatever <paramref name="from"/> sends (count first).</summary>
    private double[] Exchange(ReadOnlySpan<double> send, int to, int from)
    {
        if (to == _grid.Rank && from == _grid.Rank)
        {
            return send.ToArray();
        }

        int count = send.Length, incoming = 0;
        _comm!.SendReceive(new ReadOnlySpan<int>(in count), to, new Span<int>(ref incoming), from, tag: 2);
        var received = new double[incoming];
        _comm.SendReceive(send, to, received, from, tag: 3);
        return received;
    }

    private void EnsureLocal(int atoms)
    {
        EnsureTotal(atoms);
        if (_vel.Length < 3 * atoms)
        {
            int size = Math.Max(3 * atoms, 2 * _vel.Length);
            Array.Resize(ref _vel, size);
            Array.Resize(ref _force, size);
        }
    }

    private void EnsureTotal(int atoms)
    {
        if (_pos.Length < 3 * atoms)
        {
            int size = Math.Max(3 * atoms, 2 * _pos.Length);
            Array.Resize(ref _pos, size);
            Array.Resize(ref _ref, size);
            Array.Resize(ref _id, size / 3);
        }
    }

    private void EnsureBuffer(int values)
    {
        if (_buffer.Length < values)
        {
            _buffer = new double[Math.Max(values, 2 * _buffer.Length)];
        }
    }

    /// <summary>One halo message: atoms <see cref="Send"/> go to <see cref="To"/> with <see cref="Shift"/> added along <see cref="Dim"/>; <see cref="Count"/> ghosts arrive from <see cref="From"/> at <see cref="First"/>.</summary>
    private sealed class Swap(int dim, double shift, int to, int from, int[] send)
    {
        internal int Dim { get; } = dim;

        internal double Shift { get; } = shift;

        internal int To { get; } = to;

        internal int From { get; } = from;

        internal int[] Send { get; } = send;

        internal int First { get; set; }

        internal int Count { get; set; }
    }
}

namespace Coordinated.Apps.MD.Physics;

/// <summary>
/// A 3-d grid of ranks over a periodic cubic box: rank r owns the subdomain at grid coordinate
/// (r / (Py * Pz), (r / Pz) % Py, r % Pz). An atom belongs to the subdomain that holds its wrapped position.
/// </summary>
internal sealed class DomainGrid
{
    private readonly int[] _p;

    internal DomainGrid(int[] p, double box, int rank)
    {
        _p = p;
        Box = box;
        Rank = rank;
        Coord = [rank / (p[1] * p[2]), rank / p[2] % p[1], rank % p[2]];
        Lo = new double[3];
        Hi = new double[3];
        for (int d = 0; d < 3; d++)
        {
            Lo[d] = Coord[d] * box / p[d];
            Hi[d] = (Coord[d] + 1) * box / p[d];
        }
    }

    internal double Box { get; }

    internal int Rank { get; }

    internal int Ranks => _p[0] * _p[1] * _p[2];

    /// <summary>Ranks along x, y, z.</summary>
    internal IReadOnlyList<int> Shape => _p;

    internal int[] Coord { get; }

    internal double[] Lo { get; }

    internal double[] Hi { get; }

    /// <summary>
    /// The grid for <paramref name="ranks"/> ranks with the smallest subdomain surface whose subdomains are at least
    /// <paramref name="reach"/> wide in every direction (one hop of halo exchange suffices), or null if none is.
    /// </summary>
    internal static int[]? Choose(int ranks, double box, double reach)
    {
        int[]? best = null;
        double bestSurface = double.MaxValue;
        for (int px = 1; px <= ranks; px++)
        {
            if (ranks % px != 0)
            {
                continue;
            }

            for (int py = 1; py <= ranks / px; py++)
            {
                if (ranks / px % py != 0)
                {
                    continue;
                }

                int pz = ranks / px / py;
                if (box / px < reach || box / py < reach || box / pz < reach)
                {
                    continue;
                }

                double surface = (1.0 / (px * py)) + (1.0 / (py * pz)) + (1.0 / (px * pz));
                if (surface < bestSurface - 1e-12)
                {
                    bestSurface = surface;
                    best = [px, py, pz];
                }
            }
        }

        return best;
    }

    /// <summary>Grid coordinate along <paramref name="dim"/> of a position in [0, box) (clamped at the edges).</summary>
    internal int CellOf(double x, int dim) => Math.Clamp((int)Math.Floor(x * _p[dim] / Box), 0, _p[dim] - 1);

    internal int RankOf(int cx, int cy, int cz) => (((cx * _p[1]) + cy) * _p[2]) + cz;

    /// <summary>The rank whose subdomain holds the position (wrapped into the box first).</summary>
    internal int OwnerOf(double x, double y, double z) =>
        RankOf(CellOf(Wrap(x), 0), CellOf(Wrap(y), 1), CellOf(Wrap(z), 2));

    /// <summary>The neighbouring rank one step along <paramref name="dim"/> in direction <paramref name="dir"/> (periodic).</summary>
    internal int Neighbor(int dim, int dir)
    {
        int[] c = [Coord[0], Coord[1], Coord[2]];
        c[dim] = (c[dim] + dir + _p[dim]) % _p[dim];
        return RankOf(c[0], c[1], c[2]);
    }

    /// <summary>
    /// Maps a coordinate into [0, box) with at most one addition or subtraction of the box: the same operation for
    /// the same atom on any decomposition.
    /// </summary>
    internal double Wrap(double x)
    {
        if (x < 0)
        {
            x += Box;
            return x >= Box ? x - Box : x;
        }

        return x >= Box ? x - Box : x;
    }
}

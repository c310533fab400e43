namespace Coordinated.Apps.MD.Physics;

/// <summary>
/// Initial state of <see cref="LjSystem"/>: atom <c>id</c> sits on the fcc lattice at unit cell
/// (id / 4 / K^2, id / 4 / K % K, id / 4 % K), basis site id % 4. Velocities are uniform per component (as LAMMPS's
/// <c>velocity ... create</c> with its default uniform distribution), drawn from a SplitMix64 stream seeded by the atom
/// id, then shifted to zero total momentum and scaled to the exact temperature. Every rank computes the same numbers
/// in the same order, so the start is identical on any rank count.
/// </summary>
internal static class Lattice
{
    private static readonly double[] Basis = [0, 0, 0, 0.5, 0.5, 0, 0.5, 0, 0.5, 0, 0.5, 0.5];

    /// <summary>Lattice position of atom <paramref name="id"/> into <paramref name="xyz"/> (3 values).</summary>
    internal static void Position(LjSystem system, long id, Span<double> xyz)
    {
        long k = system.Cells, cell = id / 4;
        int b = (int)(id % 4);
        long ix = cell / (k * k), iy = cell / k % k, iz = cell % k;
        double a = system.LatticeConstant;
        xyz[0] = (ix + Basis[3 * b]) * a;
        xyz[1] = (iy + Basis[(3 * b) + 1]) * a;
        xyz[2] = (iz + Basis[(3 * b) + 2]) * a;
    }

    /// <summary>Velocities of all atoms, [3 N] in id order: zero net momentum, temperature exactly as asked (3N - 3 degrees of freedom).</summary>
    internal static double[] Velocities(LjSystem system)
    {
        long n = system.Atoms;
        var v = new double[3 * n];
        for (long id = 0; id < n; id++)
        {
            ulong state = system.Seed ^ Mix((ulong)id + 1);
            for (int c = 0; c < 3; c++)
            {
                state += 0x9E3779B97F4A7C15UL;
                v[(3 * id) + c] = ((Mix(state) >> 11) * (1.0 / (1UL << 53))) - 0.5;
            }
        }

        Span<double> mean = stackalloc double[3];
        for (long i = 0; i < n; i++)
        {
            for (int c = 0; c < 3; c++)
            {
                mean[c] += v[(3 * i) + c];
            }
        }

        for (int c = 0; c < 3; c++)
        {
            mean[c] /= n;
        }

        double sumSquares = 0;
        for (long i = 0; i < n; i++)
        {
            for (int c = 0; c < 3; c++)
            {
                double value = v[(3 * i) + c] -= mean[c];
                sumSquares += value * value;
            }
        }

        long dof = Math.Max(1, (3 * n) - 3);
        double scale = sumSquares > 0 ? Math.Sqrt(system.Temperature * dof / sumSquares) : 0;
        for (long i = 0; i < 3 * n; i++)
        {
            v[i] *= scale;
        }

        return v;
    }

    /// <summary>SplitMix64's output function.</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

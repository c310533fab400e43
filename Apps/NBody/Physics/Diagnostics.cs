namespace Coordinated.Apps.NBody.Physics;

/// <summary>Kinetic and potential energy of a system (or of part of one).</summary>
/// <param name="Kinetic">Sum of m v^2 / 2.</param>
/// <param name="Potential">Softened pair potential energy, each pair counted once.</param>
public readonly record struct EnergyTotals(double Kinetic, double Potential)
{
    /// <summary>Kinetic plus potential energy.</summary>
    public double Total => Kinetic + Potential;
}

/// <summary>Conserved quantities, for progress reports and tests.</summary>
/// <remarks>
/// Energies are reported per particle so that a distributed run can total them in one fixed order
/// whatever the rank count: each rank calls <see cref="PerParticleEnergies"/> for its block, the
/// blocks are gathered in rank order (which is global particle order), and every rank (or the root)
/// calls <see cref="SumEnergies"/> on the gathered 2N values. The result then has the same bits for
/// every partition.
/// </remarks>
public static class Diagnostics
{
    /// <summary>
    /// Computes, for each particle i of the block [<paramref name="first"/>, <paramref name="first"/> +
    /// <paramref name="count"/>), its kinetic energy <c>m_i v_i^2 / 2</c> and its half share of the pair
    /// potential energy <c>m_i phi_i / 2</c> (see <see cref="ForceKernel.Potentials(ReadOnlySpan{double}, ReadOnlySpan{double}, int, int, double, Span{double})"/>).
    /// </summary>
    /// <param name="positions">All N positions, interleaved (3N values).</param>
    /// <param name="blockVelocities">The block's velocities, interleaved (3 * count values).</param>
    /// <param name="masses">All N masses.</param>
    /// <param name="first">Global index of the block's first particle.</param>
    /// <param name="count">Number of particles in the block.</param>
    /// <param name="softening2">The squared softening length eps^2.</param>
    /// <param name="energies">Receives kinetic_i, potential_i pairs for the block (2 * count values).</param>
    public static void PerParticleEnergies(
        ReadOnlySpan<double> positions,
        ReadOnlySpan<double> blockVelocities,
        ReadOnlySpan<double> masses,
        int first,
        int count,
        double softening2,
        Span<double> energies)
    {
        if (blockVelocities.Length != 3 * count)
        {
            throw new ArgumentException($"Expected {3 * count} velocity components, got {blockVelocities.Length}.", nameof(blockVelocities));
        }

        if (energies.Length != 2 * count)
        {
            throw new ArgumentException($"Expected {2 * count} values (2 per particle), got {energies.Length}.", nameof(energies));
        }

        double[] potentials = new double[count];
        ForceKernel.Potentials(positions, masses, first, count, softening2, potentials);
        for (int k = 0; k < count; k++)
        {
            double m = masses[first + k];
            double vx = blockVelocities[3 * k];
            double vy = blockVelocities[3 * k + 1];
            double vz = blockVelocities[3 * k + 2];
            energies[2 * k] = 0.5 * m * (vx * vx + vy * vy + vz * vz);
            energies[2 * k + 1] = 0.5 * m * potentials[k];
        }
    }

    /// <summary>Totals per-particle energies in the order given (global particle order for a whole system).</summary>
    /// <param name="energies">kinetic_i, potential_i pairs, as <see cref="PerParticleEnergies"/> writes them.</param>
    public static EnergyTotals SumEnergies(ReadOnlySpan<double> energies)
    {
        if (energies.Length % 2 != 0)
        {
            throw new ArgumentException("Expected kinetic, potential pairs: an even number of values.", nameof(energies));
        }

        double kinetic = 0.0;
        double potential = 0.0;
        for (int k = 0; k < energies.Length; k += 2)
        {
            kinetic += energies[k];
            potential += energies[k + 1];
        }

        return new EnergyTotals(kinetic, potential);
    }

    /// <summary>The energies of a whole system held in one process.</summary>
    public static EnergyTotals Energies(ReadOnlySpan<double> positions, ReadOnlySpan<double> velocities, ReadOnlySpan<double> masses, double softening2)
    {
        double[] energies = new double[2 * masses.Length];
        PerParticleEnergies(positions, velocities, masses, 0, masses.Length, softening2, energies);
        return SumEnergies(energies);
    }

    /// <summary>Total momentum <c>sum_i m_i v_i</c>, summed in index order.</summary>
    /// <param name="velocities">Velocities, interleaved (3 values per particle).</param>
    /// <param name="masses">The same particles' masses.</param>
    public static (double X, double Y, double Z) Momentum(ReadOnlySpan<double> velocities, ReadOnlySpan<double> masses)
    {
        if (velocities.Length != 3 * masses.Length)
        {
            throw new ArgumentException($"Expected {3 * masses.Length} velocity components, got {velocities.Length}.", nameof(velocities));
        }

        double x = 0.0, y = 0.0, z = 0.0;
        for (int i = 0; i < masses.Length; i++)
        {
            x += masses[i] * velocities[3 * i];
            y += masses[i] * velocities[3 * i + 1];
            z += masses[i] * velocities[3 * i + 2];
        }

        return (x, y, z);
    }
}

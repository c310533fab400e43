namespace Coordinated.Apps.NBody.Physics;

/// <summary>The initial particle distributions <see cref="InitialConditions.Create"/> can produce.</summary>
public enum InitialConditionKind
{
    /// <summary>
    /// A Plummer sphere in equilibrium, sampled as Aarseth, Hénon and Wielen (1974) describe, in
    /// Hénon (N-body) units: G = 1, total mass 1, total energy -1/4.
    /// </summary>
    Plummer,

    /// <summary>A cold uniform cube of side 2 centred on the origin: every particle starts at rest.</summary>
    UniformCube,
}

/// <summary>All particles of a system: interleaved positions and velocities (x0, y0, z0, x1, ...) and masses.</summary>
public sealed class ParticleSet
{
    /// <summary>Creates a set of <paramref name="count"/> particles at rest at the origin, with zero mass.</summary>
    public ParticleSet(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        Count = count;
        Positions = new double[3 * count];
        Velocities = new double[3 * count];
        Masses = new double[count];
    }

    /// <summary>Number of particles.</summary>
    public int Count { get; }

    /// <summary>Positions, 3 * <see cref="Count"/> values.</summary>
    public double[] Positions { get; }

    /// <summary>Velocities, 3 * <see cref="Count"/> values.</summary>
    public double[] Velocities { get; }

    /// <summary>Masses, <see cref="Count"/> values.</summary>
    public double[] Masses { get; }
}

/// <summary>Deterministic initial conditions.</summary>
/// <remarks>
/// Particle i draws its random numbers from its own xoshiro256** stream, seeded from (seed, i), and
/// the samplers use only +, -, *, / and square roots, which IEEE 754 rounds exactly: the same
/// (n, seed, kind) gives the same bits on every rank, for every rank count and on every platform.
/// The centre of mass is then moved to the origin and brought to rest; those sums run over all
/// particles in global index order, so every rank generates the whole system and keeps its block.
/// </remarks>
public static class InitialConditions
{
    /// <summary>Fraction of the Plummer sphere's mass kept: the outermost 0.1 % is not sampled.</summary>
    private const double PlummerMassCut = 0.999;

    /// <summary>Creates all <paramref name="n"/> particles; each has mass 1/n.</summary>
    public static ParticleSet Create(int n, ulong seed, InitialConditionKind kind = InitialConditionKind.Plummer)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        var particles = new ParticleSet(n);
        double mass = 1.0 / n;
        for (int i = 0; i < n; i++)
        {
            var random = new Xoshiro256StarStar(StreamSeed(seed, i));
            Span<double> position = particles.Positions.AsSpan(3 * i, 3);
            Span<double> velocity = particles.Velocities.AsSpan(3 * i, 3);
            switch (kind)
            {
                case InitialConditionKind.Plummer:
                    SamplePlummer(ref random, position, velocity);
                    break;
                case InitialConditionKind.UniformCube:
                    SampleCube(ref random, position, velocity);
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown initial condition kind.");
            }

            particles.Masses[i] = mass;
        }

        MoveToCentreOfMassFrame(particles);
        return particles;
    }

    /// <summary>The seed of particle <paramref name="index"/>'s random stream.</summary>
    internal static ulong StreamSeed(ulong seed, int index) =>
        SplitMix64.Mix(seed) ^ SplitMix64.Mix(~(ulong)index);

    private static void SamplePlummer(ref Xoshiro256StarStar random, Span<double> position, Span<double> velocity)
    {
        // Radius: the enclosed mass fraction of a Plummer sphere (scale length 1) is
        // X = r^3 / (1 + r^2)^(3/2), so r = (X^(-2/3) - 1)^(-1/2) = t / sqrt(1 - t^2) with t = X^(1/3).
        // For uniform X, t is distributed like the largest of three uniform numbers: no cube root needed.
        double t;
        do
        {
            t = Math.Max(random.NextDouble(), Math.Max(random.NextDouble(), random.NextDouble()));
        }
        while (t * t * t > PlummerMassCut);

        double radius = t / Math.Sqrt(1.0 - t * t);
        RandomDirection(ref random, radius, position);

        // Speed: q = v / v_escape has density proportional to q^2 (1 - q^2)^(7/2), sampled by
        // von Neumann rejection under the constant 0.1 (the density's maximum is about 0.092).
        double q;
        double g;
        do
        {
            q = random.NextDouble();
            g = 0.1 * random.NextDouble();
            double w = 1.0 - q * q;
            if (g <= q * q * (w * w * w * Math.Sqrt(w)))
            {
                break;
            }
        }
        while (true);

        double escapeSpeed = Math.Sqrt(2.0) / Math.Sqrt(Math.Sqrt(1.0 + radius * radius));
        RandomDirection(ref random, q * escapeSpeed, velocity);

        // From Plummer units (scale length 1, G = M = 1, E = -3 pi / 64) to Hénon units (E = -1/4).
        const double lengthScale = 3.0 * Math.PI / 16.0;
        double speedScale = 1.0 / Math.Sqrt(lengthScale);
        for (int k = 0; k < 3; k++)
        {
            position[k] *= lengthScale;
            velocity[k] *= speedScale;
        }
    }

    private static void SampleCube(ref Xoshiro256StarStar random, Span<double> position, Span<double> velocity)
    {
        for (int k = 0; k < 3; k++)
        {
            position[k] = random.NextSigned();
            velocity[k] = 0.0;
        }
    }

    /// <summary>Writes a vector of the given length in an isotropically distributed direction.</summary>
    /// <remarks>Rejection from the cube [-1, 1)^3 keeps this free of sin, cos and acos.</remarks>
    private static void RandomDirection(ref Xoshiro256StarStar random, double length, Span<double> vector)
    {
        double x, y, z, norm2;
        do
        {
            x = random.NextSigned();
            y = random.NextSigned();
            z = random.NextSigned();
            norm2 = x * x + y * y + z * z;
        }
        while (norm2 > 1.0 || norm2 == 0.0);

        double scale = length / Math.Sqrt(norm2);
        vector[0] = x * scale;
        vector[1] = y * scale;
        vector[2] = z * scale;
    }

    private static void MoveToCentreOfMassFrame(ParticleSet particles)
    {
        Span<double> centre = stackalloc double[3];
        Span<double> drift = stackalloc double[3];
        double totalMass = 0.0;
        for (int i = 0; i < particles.Count; i++)
        {
            double m = particles.Masses[i];
            totalMass += m;
            for (int k = 0; k < 3; k++)
            {
                centre[k] += m * particles.Positions[3 * i + k];
                drift[k] += m * particles.Velocities[3 * i + k];
            }
        }

        for (int k = 0; k < 3; k++)
        {
            centre[k] /= totalMass;
            drift[k] /= totalMass;
        }

        for (int i = 0; i < particles.Count; i++)
        {
            for (int k = 0; k < 3; k++)
            {
                particles.Positions[3 * i + k] -= centre[k];
                particles.Velocities[3 * i + k] -= drift[k];
            }
        }
    }
}

using Coordinated.Apps.NBody.Physics;
using NUnit.Framework;

namespace Coordinated.Tests.NBody;

public class ForceKernelTests
{
    private const double Eps2 = 1e-4;

    private static IEnumerable<TestCaseData> Paths() =>
        Enum.GetNames<SimdPath>().Select(path => new TestCaseData(path).SetName($"{{m}}({path})"));

    /// <summary>The textbook loop, written independently of the kernel, with the documented operation order.</summary>
    private static double[] ReferenceAccelerations(double[] positions, double[] masses, int first, int count, double eps2)
    {
        double[] accelerations = new double[3 * count];
        for (int i = first; i < first + count; i++)
        {
            double ax = 0.0, ay = 0.0, az = 0.0;
            for (int j = 0; j < masses.Length; j++)
            {
                double dx = positions[3 * j] - positions[3 * i];
                double dy = positions[3 * j + 1] - positions[3 * i + 1];
                double dz = positions[3 * j + 2] - positions[3 * i + 2];
                double r2 = dx * dx + dy * dy + dz * dz + eps2;
                double s = r2 == 0.0 ? 0.0 : masses[j] / (r2 * Math.Sqrt(r2));
                ax += s * dx;
                ay += s * dy;
                az += s * dz;
            }

            accelerations[3 * (i - first)] = ax;
            accelerations[3 * (i - first) + 1] = ay;
            accelerations[3 * (i - first) + 2] = az;
        }

        return accelerations;
    }

    private static double[] ReferencePotentials(double[] positions, double[] masses, int first, int count, double eps2)
    {
        double[] potentials = new double[count];
        for (int i = first; i < first + count; i++)
        {
            double sum = 0.0;
            for (int j = 0; j < masses.Length; j++)
            {
                double dx = positions[3 * j] - positions[3 * i];
                double dy = positions[3 * j + 1] - positions[3 * i + 1];
                double dz = positions[3 * j + 2] - positions[3 * i + 2];
                double d2 = dx * dx + dy * dy + dz * dz;
                sum += d2 == 0.0 ? 0.0 : masses[j] / Math.Sqrt(d2 + eps2);
            }

            potentials[i - first] = -sum;
        }

        return potentials;
    }

    /// <summary>The path named by a test case (the enum is internal, so test signatures take its name).</summary>
    private static SimdPath RequireSupported(string name)
    {
        SimdPath path = Enum.Parse<SimdPath>(name);
        if (!ForceKernel.IsSupported(path))
        {
            Assert.Ignore($"{path} is not accelerated on this machine.");
        }

        return path;
    }

    /// <summary>Unequal masses, so that a mass mix-up cannot go unnoticed.</summary>
    private static ParticleSet Particles(int n, ulong seed = 3)
    {
        ParticleSet particles = InitialConditions.Create(n, seed);
        for (int i = 0; i < n; i++)
        {
            particles.Masses[i] *= 1.0 + 0.5 * Math.Sin(i);
        }

        return particles;
    }

    private static double[] Compute(ParticleSet particles, int first, int count, double eps2, SimdPath path)
    {
        double[] accelerations = new double[3 * count];
        ForceKernel.Accelerations(particles.Positions, particles.Masses, first, count, eps2, accelerations, path);
        return accelerations;
    }

    [TestCaseSource(nameof(Paths))]
    public void MatchesScalarReferenceBitForBit(string pathName)
    {
        SimdPath path = RequireSupported(pathName);
        foreach (int n in new[] { 1, 2, 3, 15, 16, 17, 33, 100, 257 })
        {
            ParticleSet particles = Particles(n);
            double[] expected = ReferenceAccelerations(particles.Positions, particles.Masses, 0, n, Eps2);
            Bitwise.AssertIdentical(Compute(particles, 0, n, Eps2, path), expected, $"n={n}");
        }
    }

    [TestCaseSource(nameof(Paths))]
    public void IsIndependentOfHowTargetsArePartitioned(string pathName)
    {
        SimdPath path = RequireSupported(pathName);
        const int n = 203;
        ParticleSet particles = Particles(n);
        double[] whole = Compute(particles, 0, n, Eps2, path);
        foreach (int ranks in new[] { 1, 2, 3, 4, 7 })
        {
            var concatenated = new List<double>();
            for (int rank = 0; rank < ranks; rank++)
            {
                (int first, int count) = Blocks.Of(n, ranks, rank);
                concatenated.AddRange(Compute(particles, first, count, Eps2, path));
            }

            Bitwise.AssertIdentical(concatenated.ToArray(), whole, $"{ranks} ranks");
        }

        // Irregular blocks, so that targets land in every lane position and in padded tails.
        var irregular = new List<double>();
        int[] sizes = [1, 5, 16, 17, 2, 31, 0, 8, 123];
        int start = 0;
        foreach (int size in sizes)
        {
            irregular.AddRange(Compute(particles, start, size, Eps2, path));
            start += size;
        }

        Assert.That(start, Is.EqualTo(n));
        Bitwise.AssertIdentical(irregular.ToArray(), whole, "irregular blocks");
    }

    [TestCaseSource(nameof(Paths))]
    public void WithoutSofteningSelfAndCoincidentPairsContributeZero(string pathName)
    {
        SimdPath path = RequireSupported(pathName);
        ParticleSet particles = Particles(21);
        // Particle 20 sits exactly on particle 4.
        particles.Positions.AsSpan(12, 3).CopyTo(particles.Positions.AsSpan(60, 3));
        double[] expected = ReferenceAccelerations(particles.Positions, particles.Masses, 0, 21, 0.0);
        double[] actual = Compute(particles, 0, 21, 0.0, path);
        Assert.That(actual.All(double.IsFinite), Is.True);
        Bitwise.AssertIdentical(actual, expected, "eps = 0");
    }

    [TestCaseSource(nameof(Paths))]
    public void PotentialsMatchReferenceAndArePartitionIndependent(string pathName)
    {
        SimdPath path = RequireSupported(pathName);
        const int n = 77;
        ParticleSet particles = Particles(n);
        double[] expected = ReferencePotentials(particles.Positions, particles.Masses, 0, n, Eps2);
        var concatenated = new List<double>();
        for (int rank = 0; rank < 3; rank++)
        {
            (int first, int count) = Blocks.Of(n, 3, rank);
            double[] block = new double[count];
            ForceKernel.Potentials(particles.Positions, particles.Masses, first, count, Eps2, block, path);
            concatenated.AddRange(block);
        }

        Bitwise.AssertIdentical(concatenated.ToArray(), expected, "potentials");
    }

    [Test]
    public void TwoBodiesAttractWithTheSoftenedInverseSquareLaw()
    {
        const double d = 0.3, m1 = 2.0, m2 = 0.5, eps2 = 0.01;
        double[] positions = [0.1, 0.2, -0.4, 0.1 + d, 0.2, -0.4];
        double[] masses = [m1, m2];
        double[] accelerations = new double[6];
        ForceKernel.Accelerations(positions, masses, 0, 2, eps2, accelerations);

        double factor = d / Math.Pow(d * d + eps2, 1.5);
        Assert.That(accelerations[0], Is.EqualTo(m2 * factor).Within(1e-14).Percent);
        Assert.That(accelerations[3], Is.EqualTo(-m1 * factor).Within(1e-14).Percent);
        Assert.That(new[] { accelerations[1], accelerations[2], accelerations[4], accelerations[5] }, Is.All.EqualTo(0.0));
    }

    [Test]
    public void BestPathIsUsedByDefault()
    {
        ParticleSet particles = Particles(50);
        double[] accelerations = new double[150];
        ForceKernel.Accelerations(particles.Positions, particles.Masses, 0, 50, Eps2, accelerations);
        Bitwise.AssertIdentical(accelerations, ReferenceAccelerations(particles.Positions, particles.Masses, 0, 50, Eps2), $"default ({ForceKernel.BestPath})");
    }

    [Test]
    public void InvalidArgumentsThrow()
    {
        double[] positions = new double[30];
        double[] masses = new double[10];
        Assert.Multiple(() =>
        {
            Assert.That(() => ForceKernel.Accelerations(positions, masses, 0, 10, Eps2, new double[29]), Throws.ArgumentException);
            Assert.That(() => ForceKernel.Accelerations(positions.AsSpan(1), masses, 0, 10, Eps2, new double[30]), Throws.ArgumentException);
            Assert.That(() => ForceKernel.Accelerations(positions, masses, 5, 6, Eps2, new double[18]), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => ForceKernel.Accelerations(positions, masses, 0, 10, -1.0, new double[30]), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => ForceKernel.Accelerations(positions, masses, 0, 10, double.NaN, new double[30]), Throws.InstanceOf<ArgumentOutOfRangeException>());
        });
    }
}

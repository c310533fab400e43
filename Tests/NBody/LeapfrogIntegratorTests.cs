using Coordinated.Apps.NBody.Physics;
using NUnit.Framework;

namespace Coordinated.Tests.NBody;

public class LeapfrogIntegratorTests
{
    private const double Softening = 0.05;

    /// <summary>Final state of a run, gathered in global order.</summary>
    private sealed record State(double[] Positions, double[] Velocities);

    private static LeapfrogIntegrator Single(ParticleSet particles)
    {
        var integrator = new LeapfrogIntegrator(particles.Masses, 0, particles.Count, Softening, exchange: null);
        integrator.Load(particles.Positions, particles.Velocities);
        return integrator;
    }

    /// <summary>
    /// Runs <paramref name="ranks"/> integrators on threads, exchanging positions through a shared
    /// array between two barriers: the same data flow as an in-place MPI_Allgatherv.
    /// </summary>
    private static State RunDistributed(double[] masses, State start, int ranks, int steps, double dt)
    {
        int n = masses.Length;
        double[] shared = new double[3 * n];
        var result = new State(new double[3 * n], new double[3 * n]);
        using var barrier = new Barrier(ranks);
        TimeSpan timeout = TimeSpan.FromSeconds(60);

        void Rank(int rank)
        {
            (int first, int count) = Blocks.Of(n, ranks, rank);
            PositionExchange exchange = positions =>
            {
                positions.Slice(3 * first, 3 * count).CopyTo(shared.AsSpan(3 * first));
                if (!barrier.SignalAndWait(timeout))
                {
                    throw new TimeoutException("exchange: a rank did not arrive");
                }

                shared.CopyTo(positions);
                if (!barrier.SignalAndWait(timeout))
                {
                    throw new TimeoutException("exchange: a rank did not leave");
                }
            };

            var integrator = new LeapfrogIntegrator(masses, first, count, Softening, exchange);
            integrator.Load(start.Positions.AsSpan(3 * first, 3 * count), start.Velocities.AsSpan(3 * first, 3 * count));
            for (int step = 0; step < steps; step++)
            {
                integrator.Step(dt);
            }

            integrator.BlockPositions.CopyTo(result.Positions.AsSpan(3 * first));
            integrator.BlockVelocities.CopyTo(result.Velocities.AsSpan(3 * first));
        }

        Task[] tasks = [.. Enumerable.Range(0, ranks).Select(rank => Task.Factory.StartNew(() => Rank(rank), TaskCreationOptions.LongRunning))];
        Task.WaitAll(tasks);
        return result;
    }

    private static double MaxRelativeEnergyError(ParticleSet particles, double dt, int steps, int every)
    {
        LeapfrogIntegrator integrator = Single(particles);
        double eps2 = Softening * Softening;
        double e0 = Diagnostics.Energies(particles.Positions, particles.Velocities, particles.Masses, eps2).Total;
        double worst = 0.0;
        for (int step = 1; step <= steps; step++)
        {
            integrator.Step(dt);
            if (step % every == 0)
            {
                double e = Diagnostics.Energies(integrator.Positions, integrator.BlockVelocities, particles.Masses, eps2).Total;
                worst = Math.Max(worst, Math.Abs((e - e0) / e0));
            }
        }

        return worst;
    }

    /// <summary>
    /// Leapfrog's energy error stays bounded and is second order: about 0.35 dt^2 for this sphere
    /// (N = 256, eps = 0.05, one time unit, measured 3.5e-7 at dt = 1e-3). The bound leaves a factor 3.
    /// </summary>
    [Test]
    public void EnergyIsConservedForAPlummerSphere()
    {
        ParticleSet particles = InitialConditions.Create(256, 7);
        double error = MaxRelativeEnergyError(particles, dt: 1e-3, steps: 1000, every: 10);
        Assert.That(error, Is.LessThan(1e-6));
    }

    /// <summary>Doubling the step must multiply the error by about four: a first-order scheme (a lost half-kick) gives two.</summary>
    [Test]
    public void EnergyErrorScalesAsTheSquareOfTheStep()
    {
        ParticleSet particles = InitialConditions.Create(256, 7);
        double fine = MaxRelativeEnergyError(particles, dt: 4e-3, steps: 250, every: 1);
        double coarse = MaxRelativeEnergyError(particles, dt: 8e-3, steps: 125, every: 1);
        Assert.That(coarse / fine, Is.InRange(3.2, 4.8), $"errors {fine:E3} at dt = 4e-3, {coarse:E3} at dt = 8e-3");
    }

    /// <summary>Pair forces are equal and opposite, so momentum changes only by rounding (about 1e-17 per step here).</summary>
    [Test]
    public void MomentumIsConserved()
    {
        ParticleSet particles = InitialConditions.Create(256, 11, InitialConditionKind.UniformCube);
        for (int i = 0; i < particles.Count; i++)
        {
            particles.Masses[i] *= 1.0 + 0.5 * Math.Cos(i); // unequal masses: m_i a_ij = -m_j a_ji must really hold
        }

        (double x0, double y0, double z0) = Diagnostics.Momentum(particles.Velocities, particles.Masses);
        LeapfrogIntegrator integrator = Single(particles);
        for (int step = 0; step < 1000; step++)
        {
            integrator.Step(1e-3);
        }

        (double x, double y, double z) = Diagnostics.Momentum(integrator.BlockVelocities, particles.Masses);
        Assert.That(new[] { x - x0, y - y0, z - z0 }, Is.All.InRange(-1e-13, 1e-13));
        // The cube has collapsed a little: the particles really moved.
        Assert.That(integrator.BlockVelocities.ToArray().Max(Math.Abs), Is.GreaterThan(0.1));
    }

    [Test]
    public void ResumingFromSavedPositionsAndVelocitiesContinuesBitForBit()
    {
        ParticleSet particles = InitialConditions.Create(100, 3);
        LeapfrogIntegrator straight = Single(particles);
        LeapfrogIntegrator first = Single(particles);
        for (int step = 0; step < 20; step++)
        {
            straight.Step(1e-3);
        }

        for (int step = 0; step < 10; step++)
        {
            first.Step(1e-3);
        }

        var resumed = new LeapfrogIntegrator(particles.Masses, 0, 100, Softening, exchange: null);
        resumed.Load(first.BlockPositions, first.BlockVelocities);
        for (int step = 0; step < 10; step++)
        {
            resumed.Step(1e-3);
        }

        Bitwise.AssertIdentical(resumed.BlockPositions, straight.BlockPositions, "positions");
        Bitwise.AssertIdentical(resumed.BlockVelocities, straight.BlockVelocities, "velocities");
    }

    [Test]
    public void TrajectoriesAreIdenticalForAnyRankCount()
    {
        ParticleSet particles = InitialConditions.Create(101, 5);
        var start = new State(particles.Positions, particles.Velocities);
        State single = RunDistributed(particles.Masses, start, ranks: 1, steps: 10, dt: 1e-3);
        Assert.That(Bitwise.Bits(single.Positions), Is.Not.EqualTo(Bitwise.Bits(particles.Positions)));
        foreach (int ranks in new[] { 2, 3, 4, 7 })
        {
            State run = RunDistributed(particles.Masses, start, ranks, steps: 10, dt: 1e-3);
            Bitwise.AssertIdentical(run.Positions, single.Positions, $"positions, {ranks} ranks");
            Bitwise.AssertIdentical(run.Velocities, single.Velocities, $"velocities, {ranks} ranks");
        }
    }

    [Test]
    public void RestartOnADifferentRankCountContinuesBitForBit()
    {
        ParticleSet particles = InitialConditions.Create(101, 5);
        var start = new State(particles.Positions, particles.Velocities);
        State straight = RunDistributed(particles.Masses, start, ranks: 1, steps: 12, dt: 1e-3);
        State checkpoint = RunDistributed(particles.Masses, start, ranks: 3, steps: 5, dt: 1e-3);
        State resumed = RunDistributed(particles.Masses, checkpoint, ranks: 4, steps: 7, dt: 1e-3);
        Bitwise.AssertIdentical(resumed.Positions, straight.Positions, "positions");
        Bitwise.AssertIdentical(resumed.Velocities, straight.Velocities, "velocities");
    }

    [Test]
    public void PerParticleEnergiesSumToTheSameBitsForAnyPartition()
    {
        ParticleSet particles = InitialConditions.Create(150, 8);
        double eps2 = Softening * Softening;
        EnergyTotals whole = Diagnostics.Energies(particles.Positions, particles.Velocities, particles.Masses, eps2);
        foreach (int ranks in new[] { 1, 2, 3, 4, 7 })
        {
            var gathered = new List<double>();
            for (int rank = 0; rank < ranks; rank++)
            {
                (int first, int count) = Blocks.Of(150, ranks, rank);
                double[] block = new double[2 * count];
                Diagnostics.PerParticleEnergies(particles.Positions, particles.Velocities.AsSpan(3 * first, 3 * count), particles.Masses, first, count, eps2, block);
                gathered.AddRange(block);
            }

            EnergyTotals total = Diagnostics.SumEnergies(gathered.ToArray());
            Assert.That(BitConverter.DoubleToInt64Bits(total.Kinetic), Is.EqualTo(BitConverter.DoubleToInt64Bits(whole.Kinetic)), $"{ranks} ranks");
            Assert.That(BitConverter.DoubleToInt64Bits(total.Potential), Is.EqualTo(BitConverter.DoubleToInt64Bits(whole.Potential)), $"{ranks} ranks");
        }
    }

    [Test]
    public void PotentialEnergyCountsEachPairOnce()
    {
        // Two unit masses at distance 2 (eps = 0): W = -1/2, and at rest K = 0.
        EnergyTotals energy = Diagnostics.Energies([0, 0, 0, 2, 0, 0], [0, 0, 0, 0, 0, 1], [1, 1], 0.0);
        Assert.That(energy.Potential, Is.EqualTo(-0.5));
        Assert.That(energy.Kinetic, Is.EqualTo(0.5));
        Assert.That(energy.Total, Is.EqualTo(0.0));
    }

    [Test]
    public void WithoutAnExchangeTheRankMustOwnEveryParticle() =>
        Assert.That(() => new LeapfrogIntegrator(new double[10], 0, 5, Softening, exchange: null), Throws.ArgumentException);
}

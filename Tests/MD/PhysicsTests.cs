using Coordinated.Apps.MD.Physics;

namespace Coordinated.Tests.MD;

/// <summary>MD's physics on one rank, without MPI.</summary>
public class PhysicsTests
{
    [Test]
    public void Initial_velocities_have_zero_momentum_and_the_exact_temperature()
    {
        var system = new LjSystem(Cells: 4);
        double[] v = Lattice.Velocities(system);
        long n = system.Atoms;
        double[] momentum = new double[3];
        double sumSquares = 0;
        for (long i = 0; i < n; i++)
        {
            for (int c = 0; c < 3; c++)
            {
                momentum[c] += v[(3 * i) + c];
                sumSquares += v[(3 * i) + c] * v[(3 * i) + c];
            }
        }

        Assert.That(momentum.Max(Math.Abs), Is.LessThan(1e-12));
        Assert.That(sumSquares / ((3 * n) - 3), Is.EqualTo(1.44).Within(1e-12));
    }

    [Test]
    public void Perfect_lattice_feels_no_force_and_has_the_lammps_energy()
    {
        var system = new LjSystem(Cells: 5);
        var sim = new Simulation(system, new DomainGrid([1, 1, 1], system.Box, 0), comm: null);
        sim.Initialize();
        Assert.That(sim.LocalCount, Is.EqualTo(500));
        Assert.That(sim.Forces.ToArray().Max(Math.Abs), Is.LessThan(1e-10), "fcc symmetry: every force cancels");
        var (kinetic, potential) = sim.Energies();
        // LAMMPS in.lj prints E/N = -4.6134356 at step 0 for 32,000 atoms; the lattice energy per atom does not depend on the size.
        Assert.That(potential / 500, Is.EqualTo(-6.7733681).Within(1e-6));
        Assert.That(2 * kinetic / ((3 * 500) - 3), Is.EqualTo(1.44).Within(1e-8));
    }

    [Test]
    public void Energy_is_conserved_and_each_neighbour_list_is_in_global_id_order()
    {
        var system = new LjSystem(Cells: 5);
        var sim = new Simulation(system, new DomainGrid([1, 1, 1], system.Box, 0), comm: null);
        sim.Initialize();
        var (k0, u0) = sim.Energies();
        for (long step = 1; step <= 100; step++)
        {
            sim.Step(step);
        }

        var (k1, u1) = sim.Energies();
        double drift = (k1 + u1 - (k0 + u0)) / Math.Abs(k0 + u0);
        Assert.That(Math.Abs(drift), Is.LessThan(5e-3));
        Assert.That(drift, Is.Not.EqualTo(0), "the system must have moved");
        Assert.That(sim.NeighborListsAreInIdOrder(), Is.True);
    }

    [TestCase(4, 20, ExpectedResult = new[] { 1, 2, 2 })]
    [TestCase(2, 20, ExpectedResult = new[] { 1, 1, 2 })]
    [TestCase(8, 20, ExpectedResult = new[] { 2, 2, 2 })]
    [TestCase(3, 4, ExpectedResult = null)]
    public int[]? Rank_grid_has_the_smallest_surface_and_subdomains_wider_than_the_halo(int ranks, int cells)
    {
        var system = new LjSystem(cells);
        return DomainGrid.Choose(ranks, system.Box, system.GhostCutoff);
    }

    [Test]
    public void Owner_of_a_position_is_the_rank_whose_subdomain_holds_it_after_wrapping()
    {
        var grid = new DomainGrid([1, 2, 2], 10.0, 0);
        Assert.That(grid.OwnerOf(1, 1, 1), Is.EqualTo(0));
        Assert.That(grid.OwnerOf(1, 1, 6), Is.EqualTo(1));
        Assert.That(grid.OwnerOf(1, 6, 1), Is.EqualTo(2));
        Assert.That(grid.OwnerOf(1, -0.5, 10.2), Is.EqualTo(2), "wrapped into the box first");
        Assert.That(grid.Wrap(-1e-17), Is.EqualTo(0.0), "a tiny negative coordinate wraps to 0, never to the box edge");
    }
}

using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Coordinated;
using Coordinated.Apps.MD.Physics;
using Coordinated.Checkpointing;
using Coordinated.Hosting;

// MD: Lennard-Jones molecular dynamics, the system of LAMMPS's in.lj benchmark (fcc at rho* 0.8442, T* 1.44, cutoff 2.5,
// skin 0.3, lists every 20 steps, velocity Verlet NVE, dt 0.005), decomposed in space over the ranks (3-d grid, halo
// exchange, migration) and checkpointed as variable-size rows with global ids. Forces are summed per atom in neighbour
// global id order, so the result has the same bits on any rank count and across any sequence of stops and restarts.

var cells = Int("--cells", "fcc unit cells per side: cells^3 x 4 atoms (20 gives 32,000 as in in.lj)", 20, allowZero: true);
var steps = Int("--steps", "Run until this many steps are done", 100, allowZero: true);
var dt = Real("--dt", "Time step (LJ units)", 0.005, allowZero: false);
var cutoff = Real("--cutoff", "Pair cutoff (sigma)", 2.5, allowZero: false);
var skin = Real("--skin", "Neighbour skin (sigma); lists and halos reach cutoff + skin", 0.3, allowZero: true);
var density = Real("--density", "Reduced density rho*", 0.8442, allowZero: false);
var temperature = Real("--temperature", "Initial temperature T*", 1.44, allowZero: true);
var seed = Int("--seed", "Seed of the initial velocities (the same atoms on any rank count)", 87287, allowZero: true);
var reportEvery = Int("--report-every", "Print temperature, energies and dE/E0 every N steps (0 = never)", 100, allowZero: true);
var reportRanks = new Option<bool>("--report-ranks")
{
    Description = "After start-up, print how many atoms each rank holds and its subdomain (rank 0 prints for all)",
};
var output = new Option<string?>("--output")
{
    Description = "Write the final state to this HDF5 file (/state/pos, /state/vel, /state/pos_ref, /state/id in global id order)",
    HelpName = "FILE",
    CustomParser = OptionParsers.NonEmpty,
};

var root = new RootCommand(
    "MD: deterministic, checkpointed Lennard-Jones molecular dynamics (LAMMPS in.lj). Stop it with a signal to any rank and " +
    "rerun the same command (on any rank count) to continue bit for bit.")
{
    cells, steps, dt, cutoff, skin, density, temperature, seed, reportEvery, reportRanks, output,
};

return CoordinatedApp.Run(root, args, context =>
{
    var world = context.World;
    var parse = context.Parse;
    long cellCount = parse.GetValue(cells);
    var system = new LjSystem(
        (int)Math.Min(cellCount, 1 << 20), parse.GetValue(density), parse.GetValue(temperature), parse.GetValue(cutoff), parse.GetValue(skin),
        RebuildEvery: 20, Dt: parse.GetValue(dt), Seed: (ulong)parse.GetValue(seed));
    if ((cellCount > 400 ? "--cells: at most 400 (256 million atoms)" : system.Problem(world.Size)) is string problem)
    {
        throw new CoordinatedException(problem, ExitCodes.Usage, isCollective: true);
    }

    long totalSteps = parse.GetValue(steps), every = parse.GetValue(reportEvery);
    int[] shape = DomainGrid.Choose(world.Size, system.Box, system.GhostCutoff)!;
    var grid = new DomainGrid(shape, system.Box, world.Rank);
    var sim = new Simulation(system, grid, world.Size > 1 ? world.Duplicate() : null);

    double energy0 = double.NaN;
    using var checkpointer = context.CreateCheckpointer("md");
    checkpointer.AddParameter("cells", system.Cells);
    checkpointer.AddParameter("density", system.Density);
    checkpointer.AddParameter("temperature", system.Temperature);
    checkpointer.AddParameter("cutoff", system.Cutoff);
    checkpointer.AddParameter("skin", system.Skin);
    checkpointer.AddParameter("rebuild_every", system.RebuildEvery);
    checkpointer.AddParameter("dt", system.Dt);
    checkpointer.AddParameter("seed", (long)system.Seed);
    var atoms = checkpointer.RegisterRows("id", system.Atoms, () => sim.Ids);
    atoms.Add("pos", 3, () => sim.Positions);
    atoms.Add("vel", 3, () => sim.Velocities);
    atoms.Add("pos_ref", 3, () => sim.ReferencePositions);
    checkpointer.RegisterScalar("energy0", () => energy0, v => energy0 = v);

    var setup = Stopwatch.StartNew();
    long step = checkpointer.Restore();
    if (atoms.IsRestored)
    {
        // Every atom goes to the rank whose subdomain holds its position at the last neighbour-list build.
        double[] reference = atoms.Restored<double>("pos_ref").ToArray();
        atoms.Redistribute(k => grid.OwnerOf(reference[3 * k], reference[(3 * k) + 1], reference[(3 * k) + 2]));
        sim.Load(atoms.RestoredIds, atoms.Restored<double>("pos"), atoms.Restored<double>("vel"), atoms.Restored<double>("pos_ref"));
    }
    else
    {
        sim.Initialize();
    }

    long localAtoms = world.Allreduce((long)sim.LocalCount, Coordinated.Mpi.ReduceOp.Sum);
    if (localAtoms != system.Atoms)
    {
        throw new InvalidOperationException($"the ranks hold {localAtoms} atoms, not {system.Atoms}");
    }

    double setupSeconds = world.Allreduce(setup.Elapsed.TotalSeconds, Coordinated.Mpi.ReduceOp.Max);
    if (double.IsNaN(energy0))
    {
        var (k0, u0) = sim.Energies();
        energy0 = k0 + u0;
    }

    long n = system.Atoms;
    void Say(string line)
    {
        if (world.IsRoot)
        {
            Console.WriteLine(line);
        }
    }

    Say(string.Create(CultureInfo.InvariantCulture,
        $"md: {n} atoms ({system.Cells}^3 fcc cells, rho* {system.Density:G}, box {system.Box:F4}) on {world.Size} rank(s) as a {shape[0]}x{shape[1]}x{shape[2]} grid, " +
        $"cutoff {system.Cutoff:G} + skin {system.Skin:G}, dt {system.Dt:G}, step {step} -> {totalSteps}, E0/N = {energy0 / n:R}"));
    Say(string.Create(CultureInfo.InvariantCulture, $"md: {(atoms.IsRestored ? "restored and set up" : "set up")} in {setupSeconds:F3} s"));

    if (parse.GetValue(reportRanks))
    {
        int[] held = world.Allgather(sim.LocalCount);
        for (int r = 0; r < world.Size; r++)
        {
            var other = new DomainGrid(shape, system.Box, r);
            Say(string.Create(CultureInfo.InvariantCulture,
                $"md: rank {r} holds {held[r]} atoms in [{other.Lo[0]:R}, {other.Hi[0]:R}) x [{other.Lo[1]:R}, {other.Hi[1]:R}) x [{other.Lo[2]:R}, {other.Hi[2]:R})"));
        }
    }

    var clock = Stopwatch.StartNew();
    var total = Stopwatch.StartNew();
    long stepsTimed = 0, loopSteps = 0, lastReported = -1;
    double computeSeconds = 0;
    while (step < totalSteps)
    {
        long before = Stopwatch.GetTimestamp();
        sim.Step(step + 1);
        computeSeconds += Stopwatch.GetElapsedTime(before).TotalSeconds;
        step++;
        stepsTimed++;
        loopSteps++;
        if (every > 0 && (step % every == 0 || step == totalSteps))
        {
            var (kinetic, potential) = sim.Energies();
            double seconds = clock.Elapsed.TotalSeconds, e = kinetic + potential;
            Say(string.Create(CultureInfo.InvariantCulture,
                $"md: step {step}/{totalSteps}  T* = {2 * kinetic / ((3 * n) - 3):F5}  PE/N = {potential / n:F6}  E/N = {e / n:F8}  " +
                $"dE/E0 = {(e - energy0) / Math.Abs(energy0):E3}  {stepsTimed / seconds:F1} steps/s"));
            clock.Restart();
            stepsTimed = 0;
        }

        long boundary = Stopwatch.GetTimestamp();
        var decision = checkpointer.AtStepBoundary(step);
        if (checkpointer.LastCheckpoint?.Step == step && lastReported != step)
        {
            lastReported = step;
            Say(string.Create(CultureInfo.InvariantCulture,
                $"md: checkpoint of step {step} took {Stopwatch.GetElapsedTime(boundary).TotalSeconds:F4} s (rows moved into id order, written, committed)"));
        }

        if (decision == StepDecision.Stop)
        {
            return ExitCodes.Stopped;
        }
    }

    double loopSeconds = total.Elapsed.TotalSeconds;
    long migrated = world.Allreduce(sim.MigratedIn, Coordinated.Mpi.ReduceOp.Sum);
    long pairs = world.Allreduce(sim.NeighborPairs, Coordinated.Mpi.ReduceOp.Sum);
    double compute = world.Allreduce(computeSeconds, Coordinated.Mpi.ReduceOp.Max);
    if (loopSteps > 0)
    {
        Say(string.Create(CultureInfo.InvariantCulture,
            $"md: timing {loopSteps} steps in {loopSeconds:F3} s: {loopSteps / loopSeconds:F2} steps/s ({loopSteps / compute:F2} steps/s in the MD step alone), " +
            $"{n * (double)loopSteps / loopSeconds / 1e6:F3} M atom-steps/s, {(double)pairs / n:F1} neighbours per atom (full lists)"));
    }

    double force = world.Allreduce(sim.ForceSeconds, Coordinated.Mpi.ReduceOp.Max);
    double rebuild = world.Allreduce(sim.RebuildSeconds, Coordinated.Mpi.ReduceOp.Max);
    double halo = world.Allreduce(sim.HaloSeconds, Coordinated.Mpi.ReduceOp.Max);
    Say(string.Create(CultureInfo.InvariantCulture, $"md: breakdown (max over ranks): force {force:F3} s, rebuild (migrate + ghosts + lists) {rebuild:F3} s, halo {halo:F3} s"));
    Say($"md: {migrated} atom moves between ranks in this run");
    var final = Stopwatch.StartNew();
    checkpointer.Complete(step);
    Say(string.Create(CultureInfo.InvariantCulture, $"md: final checkpoint (rows gathered into id order, written, committed) took {final.Elapsed.TotalSeconds:F3} s"));
    if (parse.GetValue(output) is string path)
    {
        checkpointer.WriteOutput(path, step);
        Say($"md: wrote {path}");
    }

    Say($"md: finished at step {step}");
    return ExitCodes.Success;
});

static Option<long> Int(string name, string description, long value, bool allowZero) => new(name)
{
    Description = description,
    DefaultValueFactory = _ => value,
    CustomParser = r => OptionParsers.Count(r, min: allowZero ? 0 : 1),
};

static Option<double> Real(string name, string description, double value, bool allowZero) => new(name)
{
    Description = description,
    DefaultValueFactory = _ => value,
    CustomParser = r => OptionParsers.Real(r, allowZero),
};

using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Coordinated;
using Coordinated.Apps.NBody.Physics;
using Coordinated.Checkpointing;
using Coordinated.Hosting;
using Coordinated.Mpi;

// NBody: direct-summation gravitational N-body (G = 1, Plummer softening, kick-drift-kick leapfrog), block-partitioned
// over the ranks, checkpointed by the Coordinated runtime. The force on each particle is summed over all particles in
// global index order, so the result has the same bits for any rank count and any sequence of stops and restarts.

if (args.Length > 0 && args[0] == "bench-kernel")
{
    return KernelBenchmarkCommand(args[1..]);
}

var particles = new Option<long>("--particles")
{
    Description = "Number of particles N",
    DefaultValueFactory = _ => 4096,
    CustomParser = r => OptionParsers.Count(r, min: 1, max: int.MaxValue / 3),
};
var steps = new Option<long>("--steps")
{
    Description = "Run until this many steps are done",
    DefaultValueFactory = _ => 1000,
    CustomParser = r => OptionParsers.Count(r, min: 0),
};
var dt = new Option<double>("--dt")
{
    Description = "Time step (N-body units)",
    DefaultValueFactory = _ => 1e-3,
    CustomParser = r => OptionParsers.Real(r, allowZero: false),
};
var softening = new Option<double>("--softening")
{
    Description = "Plummer softening length eps",
    DefaultValueFactory = _ => 0.01,
    CustomParser = r => OptionParsers.Real(r, allowZero: false),
};
var seed = new Option<long>("--seed")
{
    Description = "Seed of the initial conditions (same seed, same particles, on any rank count)",
    DefaultValueFactory = _ => 1,
    CustomParser = r => OptionParsers.Count(r, min: 0),
};
var ic = new Option<InitialConditionKind>("--initial")
{
    Description = "Initial conditions: a Plummer sphere or a uniform cube (zero net momentum either way)",
    DefaultValueFactory = _ => InitialConditionKind.Plummer,
    CustomParser = OptionParsers.Name<InitialConditionKind>,
};
var reportEvery = new Option<long>("--report-every")
{
    Description = "Print step, time, speed and energy drift every N steps on rank 0 (0 = never)",
    DefaultValueFactory = _ => 100,
    CustomParser = r => OptionParsers.Count(r, min: 0),
};
var output = new Option<string?>("--output")
{
    Description = "Write the final state to this HDF5 file (snapshot layout: /state/pos, /state/vel, /state/mass)",
    HelpName = "FILE",
    CustomParser = OptionParsers.NonEmpty,
};

var root = new RootCommand(
    "NBody: a deterministic, checkpointed direct-summation N-body simulation. Stop it with a signal to any rank and " +
    "rerun the same command (on any rank count) to continue bit for bit. 'NBody bench-kernel --help' benchmarks the force kernel.")
{
    particles, steps, dt, softening, seed, ic, reportEvery, output,
};
return CoordinatedApp.Run(root, args, context =>
{
    var world = context.World;
    int n = (int)context.Parse.GetValue(particles);
    long totalSteps = context.Parse.GetValue(steps);
    double timeStep = context.Parse.GetValue(dt);
    double eps = context.Parse.GetValue(softening);
    long seedValue = context.Parse.GetValue(seed);
    var kind = context.Parse.GetValue(ic);
    long every = context.Parse.GetValue(reportEvery);

    // Every rank generates the same initial conditions and keeps its block.
    var initial = InitialConditions.Create(n, (ulong)seedValue, kind);
    var (first64, count64) = Partition.Block(n, world.Size, world.Rank);
    int first = (int)first64, count = (int)count64;
    int[] counts = new int[world.Size], displacements = new int[world.Size];
    for (int r = 0; r < world.Size; r++)
    {
        var (f, c) = Partition.Block(n, world.Size, r);
        counts[r] = (int)(3 * c);
        displacements[r] = (int)(3 * f);
    }

    var integrator = new LeapfrogIntegrator(initial.Masses, first, count, eps, world.Size == 1 ? null : all => world.AllgathervInPlace(all, counts, displacements));
    integrator.Load(initial.Positions.AsSpan(3 * first, 3 * count), initial.Velocities.AsSpan(3 * first, 3 * count));
    double[] massBlock = initial.Masses.AsSpan(first, count).ToArray();
    initial = null;

    double time = 0, energy0 = double.NaN;
    using var checkpointer = context.CreateCheckpointer("nbody");
    checkpointer.AddParameter("particles", n);
    checkpointer.AddParameter("dt", timeStep);
    checkpointer.AddParameter("softening", eps);
    checkpointer.AddParameter("seed", seedValue);
    checkpointer.AddParameter("initial", kind.ToString().ToLowerInvariant());
    checkpointer.Register("pos", integrator.BlockPositionsMemory, first, n, components: 3);
    checkpointer.Register("vel", integrator.BlockVelocitiesMemory, first, n, components: 3);
    checkpointer.Register("mass", massBlock, first, n);
    checkpointer.RegisterScalar("time", () => time, v => time = v);
    checkpointer.RegisterScalar("energy0", () => energy0, v => energy0 = v);

    long step = checkpointer.Restore();
    integrator.Reload(); // the restored block (if any) is the state; accelerations are recomputed from it

    double[] gathered = world.IsRoot ? new double[2 * n] : [];
    double[] local = new double[2 * count];
    int[] energyCounts = counts.Select(c => c / 3 * 2).ToArray(), energyDispls = displacements.Select(d => d / 3 * 2).ToArray();
    double[] allEnergies = new double[2 * n];
    double TotalEnergy()
    {
        integrator.PerParticleEnergies(local);
        local.CopyTo(allEnergies.AsSpan(energyDispls[world.Rank]));
        world.AllgathervInPlace<double>(allEnergies, energyCounts, energyDispls);
        return Diagnostics.SumEnergies(allEnergies).Total;
    }

    if (double.IsNaN(energy0))
    {
        energy0 = TotalEnergy();
    }

    if (world.IsRoot)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"nbody: {n} particles ({kind.ToString().ToLowerInvariant()}, seed {seedValue}) on {world.Size} rank(s), dt {timeStep:G}, eps {eps:G}, step {step} -> {totalSteps}, E0 = {energy0:R}"));
    }

    var clock = Stopwatch.StartNew();
    long stepsTimed = 0;
    while (step < totalSteps)
    {
        integrator.Step(timeStep);
        step++;
        stepsTimed++;
        time = step * timeStep;
        if (every > 0 && (step % every == 0 || step == totalSteps))
        {
            double energy = TotalEnergy();
            double seconds = clock.Elapsed.TotalSeconds;
            if (world.IsRoot)
            {
                double rate = stepsTimed / seconds;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"nbody: step {step}/{totalSteps}  t = {time:F4}  {rate:F1} steps/s  {rate * n * (double)n / 1e9:F3} G interactions/s  dE/E0 = {(energy - energy0) / Math.Abs(energy0):E3}"));
            }

            clock.Restart();
            stepsTimed = 0;
        }

        if (checkpointer.AtStepBoundary(step) == StepDecision.Stop)
        {
            return ExitCodes.Stopped;
        }
    }

    checkpointer.Complete(step);
    if (context.Parse.GetValue(output) is string path)
    {
        checkpointer.WriteOutput(path, step);
        if (world.IsRoot)
        {
            Console.WriteLine($"nbody: wrote {path}");
        }
    }

    if (world.IsRoot)
    {
        Console.WriteLine($"nbody: finished at step {step}");
    }

    return ExitCodes.Success;
});

static int KernelBenchmarkCommand(string[] args)
{
    var repeats = new Option<int>("--repeats")
    {
        Description = "Timed repetitions per size (the best is reported)",
        DefaultValueFactory = _ => 3,
        CustomParser = r => OptionParsers.Count32(r, min: 1),
    };
    var sizes = new Option<int[]>("--sizes")
    {
        Description = "Particle counts, comma-separated",
        DefaultValueFactory = _ => KernelBenchmark.DefaultSizes.ToArray(),
        CustomParser = r =>
        {
            string text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
            var values = new List<int>();
            foreach (string part in text.Split(','))
            {
                if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1 || n > int.MaxValue / 3)
                {
                    r.AddError($"--sizes: '{part}' is not a particle count from 1 to {int.MaxValue / 3}");
                    return [];
                }

                values.Add(n);
            }

            return [.. values];
        },
    };
    var command = new RootCommand(
        "Force-kernel benchmark: pair interactions per second per core of the C# kernel (every SIMD width) and of a plain C " +
        "reference (gcc -O3 -march=native, built in the same run), with a bit-for-bit comparison of their accelerations. " +
        "Exit 0: all identical; 1: a result differs; 2: gcc missing or the C build failed.")
    {
        repeats, sizes,
    };
    command.SetAction(result => KernelBenchmark.Run(
        result.GetValue(sizes)!, result.GetValue(repeats), Console.Out));
    var parse = command.Parse(args);
    if (parse.Errors.Count > 0)
    {
        Console.Error.WriteLine(OptionParsers.OneLine(parse, args));
        return ExitCodes.Usage;
    }

    return parse.Invoke();
}

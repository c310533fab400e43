using System.CommandLine;
using System.Globalization;
using Coordinated;
using Coordinated.Checkpointing;
using Coordinated.Hosting;
using Coordinated.Mpi;

// Stencil: a sample of the runtime in a code that owns Main. 3-d diffusion (7-point Jacobi stencil, periodic) on a
// global N^3 grid split into blocks over a 3-d rank grid; each block is checkpointed as an N-d block with a halo of 1
// (RegisterBlock) and restored onto whatever decomposition the next run has. Every cell's update is the same
// arithmetic on any decomposition, so results have the same bits on any rank count.
// This program parses its own command line (the runtime's flags bound into its parser with RuntimeCommandLine.AddTo),
// registers the stop signals and initialises MPI itself, instead of calling CoordinatedApp.Run.

var size = new Option<long>("--size") { Description = "Grid cells per side (N^3 cells)", DefaultValueFactory = _ => 24, CustomParser = r => OptionParsers.Count(r, min: 1) };
var steps = new Option<long>("--steps") { Description = "Run until this many steps are done", DefaultValueFactory = _ => 50, CustomParser = r => OptionParsers.Count(r, min: 0) };
var grid = new Option<string?>("--grid") { Description = "Rank grid PxQxR (default: the most cubic split)" };
var output = new Option<string?>("--output") { Description = "Write the final state to this HDF5 file", HelpName = "FILE", CustomParser = OptionParsers.NonEmpty };
var root = new RootCommand("Stencil: 3-d diffusion on N-d blocks with halos, checkpointed and restored onto any decomposition.") { size, steps, grid, output };
var runtime = RuntimeCommandLine.AddTo(root); // --checkpoint-dir, --checkpoint-every-steps, ... in this program's own parser
root.SetAction(_ => 0);
var parse = root.Parse(args);
bool printer = CoordinatedApp.LaunchRank() == 0;
if (parse.Errors.Count > 0)
{
    foreach (var error in parse.Errors.Where(_ => printer))
    {
        Console.Error.WriteLine($"error: {error.Message}");
    }

    return ExitCodes.Usage;
}

if (parse.Action != root.Action)
{
    return printer ? parse.Invoke() : 0; // --help
}

CheckpointOptions options = runtime.Bind(parse) with { Keep = 3 }; // options can also be built or changed in code
StopSignals.Register(options.StopSignals);
using var mpi = MpiEnvironment.Initialize();
var world = Communicator.World;
long n = parse.GetValue(size), total = parse.GetValue(steps);
int[]? shape = parse.GetValue(grid) is string text ? ParseGrid(text, world.Size) : CubicGrid(world.Size);
if (shape is null || shape.Any(p => p > n))
{
    if (world.IsRoot)
    {
        Console.Error.WriteLine($"error: --grid must be PxQxR with P*Q*R = {world.Size} ranks, each at most --size {n}");
    }

    return ExitCodes.Usage;
}

int[] coord = [world.Rank / (shape[1] * shape[2]), world.Rank / shape[2] % shape[1], world.Rank % shape[2]];
long[] start = new long[3], count = new long[3];
for (int d = 0; d < 3; d++)
{
    (start[d], count[d]) = Partition.Block(n, shape[d], coord[d]);
}

int[] ext = [(int)count[0] + 2, (int)count[1] + 2, (int)count[2] + 2];
double[] u = new double[ext[0] * ext[1] * ext[2]];
double[] next = new double[u.Length];
bool[] hot = new bool[u.Length];         // bool: stored as 0/1 bytes
ulong[] updates = new ulong[u.Length];   // ulong: times each cell was updated
var range = new MinMax[u.Length];        // a struct of two floats: stored as 2 float32 components per cell
int At(int x, int y, int z) => (((x * ext[1]) + y) * ext[2]) + z;
for (int x = 1; x <= count[0]; x++)
{
    for (int y = 1; y <= count[1]; y++)
    {
        for (int z = 1; z <= count[2]; z++)
        {
            ulong g = (ulong)((((start[0] + x - 1) * n) + start[1] + y - 1) * n + start[2] + z - 1);
            u[At(x, y, z)] = ((g * 0x9E3779B97F4A7C15UL) >> 11) * (1.0 / (1UL << 53)); // a fixed function of the global cell
        }
    }
}

int exitCode;
try
{
    using var checkpointer = Checkpointer.Create(world, "stencil", options);
    checkpointer.AddParameter("size", n);
    checkpointer.RegisterBlock("u", u.AsMemory(), [n, n, n], start, count, halo: 1);
    checkpointer.RegisterBlock("hot", hot.AsMemory(), [n, n, n], start, count, halo: 1);
    checkpointer.RegisterBlock("updates", updates.AsMemory(), [n, n, n], start, count, halo: 1);
    checkpointer.RegisterBlock("range", range.AsMemory(), [n, n, n], start, count, halo: 1);
    // Per-rank private state: an RNG stream per rank (not used by the physics). Same rank count: each rank continues its
    // own stream; another count: every rank derives a fresh stream from all the saved ones and its rank (merge/split).
    ulong[] rng = [0x9E3779B97F4A7C15UL * (ulong)(world.Rank + 1)];
    checkpointer.RegisterRankState("rng", rng, (saved, savedRanks, mine) =>
    {
        if (savedRanks == world.Size)
        {
            mine[0] = saved[world.Rank];
            return;
        }

        ulong merged = (ulong)world.Rank;
        foreach (ulong s in saved)
        {
            merged = (merged ^ s) * 0xBF58476D1CE4E5B9UL;
        }

        mine[0] = merged;
        if (world.IsRoot)
        {
            Console.WriteLine($"stencil: re-derived {world.Size} RNG streams from the {savedRanks} saved");
        }
    });
    long step = checkpointer.Restore();
    if (world.IsRoot)
    {
        Console.WriteLine($"stencil: {n}^3 cells on {world.Size} rank(s) as a {shape[0]}x{shape[1]}x{shape[2]} grid, step {step} -> {total}");
    }

    exitCode = ExitCodes.Success;
    while (step < total)
    {
        ExchangeHalos();
        for (int x = 1; x <= count[0]; x++)
        {
            for (int y = 1; y <= count[1]; y++)
            {
                for (int z = 1; z <= count[2]; z++)
                {
                    int i = At(x, y, z);
                    double sum = u[At(x - 1, y, z)] + u[At(x + 1, y, z)] + u[At(x, y - 1, z)] + u[At(x, y + 1, z)] + u[At(x, y, z - 1)] + u[At(x, y, z + 1)];
                    next[i] = u[i] + (0.1 * (sum - (6 * u[i])));
                    hot[i] = next[i] > 0.5;
                    updates[i]++;
                    float v = (float)next[i];
                    range[i] = updates[i] == 1 ? new MinMax(v, v) : new MinMax(Math.Min(range[i].Min, v), Math.Max(range[i].Max, v));
                }
            }
        }

        rng[0] += 0x9E3779B97F4A7C15UL; // the stream advances once per step
        next.AsSpan().CopyTo(u); // the registered memory is u: the result goes back into it (halos are refreshed before use)
        step++;
        if (checkpointer.AtStepBoundary(step) == StepDecision.Stop)
        {
            exitCode = ExitCodes.Stopped;
            break;
        }
    }

    if (exitCode == ExitCodes.Success)
    {
        checkpointer.Complete(step);
        if (parse.GetValue(output) is string path)
        {
            checkpointer.WriteOutput(path, step);
        }

        if (world.IsRoot)
        {
            Console.WriteLine($"stencil: finished at step {step}");
        }
    }
}
catch (CoordinatedException e) when (e.IsCollective)
{
    if (world.IsRoot && e.ExitCode != ExitCodes.Stopped)
    {
        Console.Error.WriteLine($"error: {e.Message}");
    }

    exitCode = e.ExitCode;
}

return exitCode;

// Periodic halo exchange, one dimension at a time over whole faces (halo included), so edges and corners fill too.
void ExchangeHalos()
{
    for (int d = 0; d < 3; d++)
    {
        foreach (int dir in (int[])[1, -1])
        {
            int[] c = [coord[0], coord[1], coord[2]];
            c[d] = (c[d] + dir + shape[d]) % shape[d];
            int to = (((c[0] * shape[1]) + c[1]) * shape[2]) + c[2];
            c[d] = (coord[d] - dir + (2 * shape[d])) % shape[d];
            int from = (((c[0] * shape[1]) + c[1]) * shape[2]) + c[2];
            int sendPlane = dir > 0 ? (int)count[d] : 1, receivePlane = dir > 0 ? 0 : (int)count[d] + 1;
            double[] send = Face(d, sendPlane, null), receive = new double[send.Length];
            if (to == world.Rank)
            {
                send.CopyTo(receive, 0);
            }
            else
            {
                world.SendReceive<double>(send, to, receive, from, tag: 7);
            }

            Face(d, receivePlane, receive);
        }
    }
}

// Reads (values == null) or writes one plane of the block, halo included.
double[] Face(int d, int plane, double[]? values)
{
    int a = (d + 1) % 3, b = (d + 2) % 3;
    var face = values ?? new double[ext[a] * ext[b]];
    int k = 0;
    int[] p = new int[3];
    p[d] = plane;
    for (p[a] = 0; p[a] < ext[a]; p[a]++)
    {
        for (p[b] = 0; p[b] < ext[b]; p[b]++)
        {
            int i = At(p[0], p[1], p[2]);
            if (values is null)
            {
                face[k++] = u[i];
            }
            else
            {
                u[i] = face[k++];
            }
        }
    }

    return face;
}

static int[]? ParseGrid(string text, int ranks)
{
    var parts = text.Split('x');
    if (parts.Length != 3 || !parts.All(s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0))
    {
        return null;
    }

    int[] g = [.. parts.Select(s => int.Parse(s, CultureInfo.InvariantCulture))];
    return g[0] * g[1] * g[2] == ranks ? g : null;
}

static int[] CubicGrid(int ranks)
{
    int[] best = [ranks, 1, 1];
    for (int p = 1; p <= ranks; p++)
    {
        for (int q = 1; p * q <= ranks; q++)
        {
            if (ranks % (p * q) == 0 && Math.Max(p, Math.Max(q, ranks / p / q)) < Math.Max(best[0], Math.Max(best[1], best[2])))
            {
                best = [p, q, ranks / p / q];
            }
        }
    }

    return best;
}

/// <summary>Smallest and largest value a cell has had.</summary>
internal readonly record struct MinMax(float Min, float Max);

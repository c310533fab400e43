using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Coordinated;
using Coordinated.Checkpointing;
using Coordinated.Hosting;
using Coordinated.Mpi;

// Checkpoint benchmark: N particles' positions and velocities ([N,3] float64 each, like NBody) are checkpointed
// K times through exactly the path the apps use (commit protocol, checksums, fsync), --gap seconds apart (the
// computation an app does between checkpoints). Then: one restart (read and
// verify), the per-step cost of the trigger agreement, and the latency from a signal to a committed snapshot.
// Usage: ./mpi-run.sh -n R bench --particles N --repeat K --checkpoint-dir DIR

var particles = new Option<long>("--particles")
{
    Description = "Particles (pos + vel = 48 bytes each)",
    DefaultValueFactory = _ => 2_000_000,
    CustomParser = r => OptionParsers.Count(r, min: 1, max: int.MaxValue / 3),
};
var repeat = new Option<long>("--repeat")
{
    Description = "Checkpoints to take",
    DefaultValueFactory = _ => 5,
    CustomParser = r => OptionParsers.Count(r, min: 1),
};
var agreeSteps = new Option<long>("--agreement-steps")
{
    Description = "Step boundaries timed for the agreement cost (0 = skip)",
    DefaultValueFactory = _ => 2000,
    CustomParser = r => OptionParsers.Count(r, min: 0),
};
var gap = new Option<double>("--gap")
{
    Description = "Seconds between checkpoints, standing in for the computation an app does between them (0 = back to back)",
    DefaultValueFactory = _ => 0.5,
    CustomParser = r => OptionParsers.Duration(r, allowZero: true),
};
var json = new Option<bool>("--json") { Description = "Also print one JSON summary line (for scripts)" };
var atBoundary = new Option<bool>("--at-step-boundary")
{
    Description = "Take each checkpoint as an app does, through AtStepBoundary (give --checkpoint-every-steps 1): the runtime's triggers then choose the level (local, partner, global: --checkpoint-local-dir, --global-every). Without it each checkpoint is an explicit Checkpoint call, which is always global",
};
var root = new RootCommand("Coordinated checkpoint benchmark (write, restart, agreement, signal latency).")
{
    particles, repeat, agreeSteps, gap, json, atBoundary,
};

return CoordinatedApp.Run(root, args, context =>
{
    var world = context.World;
    long n = context.Parse.GetValue(particles);
    long k = context.Parse.GetValue(repeat);
    var (first, count) = Partition.Block(n, world.Size, world.Rank);
    double[] pos = new double[count * 3], vel = new double[count * 3];
    for (long i = 0; i < count; i++)
    {
        for (int d = 0; d < 3; d++)
        {
            pos[(i * 3) + d] = Math.Sin(((first + i) * 3) + d);
            vel[(i * 3) + d] = Math.Cos(((first + i) * 3) + d);
        }
    }

    var options = context.Checkpoint with { Fresh = true };
    var writes = new List<double>();
    var blockedSeconds = new List<double>(); // wall time the app spent in Checkpoint (with --checkpoint-async: the copy, not the write)
    long bytes = n * 48;
    using (var checkpointer = Checkpointer.Create(world, "bench", options))
    {
        checkpointer.AddParameter("particles", n);
        checkpointer.Register("pos", pos, first, n, components: 3);
        checkpointer.Register("vel", vel, first, n, components: 3);
        checkpointer.Restore();
        for (long step = 1; step <= k; step++)
        {
            if (step > 1 && context.Parse.GetValue(gap) > 0)
            {
                Thread.Sleep(TimeSpan.FromSeconds(context.Parse.GetValue(gap))); // the app's computation between checkpoints
            }

            world.Barrier();
            var blocked = Stopwatch.StartNew();
            if (context.Parse.GetValue(atBoundary))
            {
                if (checkpointer.AtStepBoundary(step) != StepDecision.Continue)
                {
                    throw new InvalidOperationException("the run was asked to stop during the benchmark");
                }

                double app = world.Allreduce(blocked.Elapsed.TotalSeconds, ReduceOp.Max);
                blockedSeconds.Add(app);
                writes.Add(app);
                if (world.IsRoot)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bench: step boundary {step}/{k}: {app:F3} s in the app"));
                }

                continue;
            }

            var report = checkpointer.Checkpoint(step);
            blockedSeconds.Add(world.Allreduce(blocked.Elapsed.TotalSeconds, ReduceOp.Max));
            double slowest = world.Allreduce(report.TotalSeconds, ReduceOp.Max);
            writes.Add(slowest);
            if (world.IsRoot)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"bench: checkpoint {step}/{k}: {slowest:F3} s, {bytes / slowest / 1e6:F0} MB/s (write {report.WriteSeconds:F3}, flush {report.FlushSeconds:F3}, commit {report.CommitSeconds:F3})"));
            }
        }
    }

    // Restart: a second checkpointer (as a new job would) reads and verifies the newest snapshot.
    Array.Clear(pos);
    Array.Clear(vel);
    world.Barrier();
    var restart = Stopwatch.StartNew();
    double agreeMicros = 0, signalSeconds = 0;
    using (var checkpointer = Checkpointer.Create(world, "bench", options with { Fresh = false, Quiet = true }))
    {
        checkpointer.AddParameter("particles", n);
        checkpointer.Register("pos", pos, first, n, components: 3);
        checkpointer.Register("vel", vel, first, n, components: 3);
        long step = checkpointer.Restore();
        double restartSeconds = world.Allreduce(restart.Elapsed.TotalSeconds, ReduceOp.Max);
        if (pos.Length > 0 && BitConverter.DoubleToInt64Bits(pos[^1]) != BitConverter.DoubleToInt64Bits(Math.Sin(((first + count - 1) * 3) + 2)))
        {
            throw new InvalidOperationException("restart returned other data than was written");
        }

        // Agreement: the per-step allreduce with no trigger due.
        long steps = context.Parse.GetValue(agreeSteps);
        if (steps > 0)
        {
            world.Barrier();
            var agree = Stopwatch.StartNew();
            for (long s = 1; s <= steps; s++)
            {
                checkpointer.AtStepBoundary(step + s);
            }

            agreeMicros = world.Allreduce(agree.Elapsed.TotalSeconds, ReduceOp.Max) / steps * 1e6;
            step += steps;
        }

        // Signal latency: rank 0 sends itself SIGUSR1 (a real signal through the handler) and steps on until the stop.
        world.Barrier();
        var signal = Stopwatch.StartNew();
        if (world.IsRoot)
        {
            Process.Start("kill", ["-USR1", Environment.ProcessId.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();
            signal.Restart();
        }

        while (checkpointer.AtStepBoundary(++step) == StepDecision.Continue)
        {
        }

        signalSeconds = signal.Elapsed.TotalSeconds;
        if (world.IsRoot)
        {
            double median = writes.Order().ElementAt(writes.Count / 2);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"bench: {n} particles ({bytes / 1e6:F1} MB) on {world.Size} rank(s): checkpoint median {median:F3} s ({bytes / median / 1e6:F0} MB/s), " +
                $"restart {restartSeconds:F3} s ({bytes / restartSeconds / 1e6:F0} MB/s), agreement {agreeMicros:F1} us/step, signal-to-commit {signalSeconds:F3} s"));
            if (context.Parse.GetValue(json))
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{{\"particles\":{n},\"ranks\":{world.Size},\"bytes\":{bytes},\"checkpoint_s\":[{string.Join(",", writes.Select(w => w.ToString("R", CultureInfo.InvariantCulture)))}],\"app_s\":[{string.Join(",", blockedSeconds.Select(w => w.ToString("R", CultureInfo.InvariantCulture)))}],\"restart_s\":{restartSeconds:R},\"agree_us\":{agreeMicros:R},\"signal_to_commit_s\":{signalSeconds:R}}}"));
            }
        }
    }

    return ExitCodes.Success;
});

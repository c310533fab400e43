using System.CommandLine;
using Coordinated;
using Coordinated.Checkpointing;
using Coordinated.Hosting;

// The smallest complete Coordinated app: K global counters, block-partitioned over the ranks; every step sleeps
// and increments each counter, so after step s every counter equals s. Stop it with a signal to any rank and
// rerun the same command: it resumes from the newest snapshot, on any number of ranks, with exact counts.

var counters = new Option<long>("--counters")
{
    Description = "Number of global counters, partitioned over the ranks",
    DefaultValueFactory = _ => 12,
    CustomParser = r => OptionParsers.Count(r, min: 1, max: Array.MaxLength),
};
var to = new Option<long>("--to")
{
    Description = "Run until this step",
    DefaultValueFactory = _ => 100,
    CustomParser = r => OptionParsers.Count(r, min: 0),
};
var stepSeconds = new Option<double>("--step-seconds")
{
    Description = "Seconds each step sleeps (the stand-in for computation)",
    DefaultValueFactory = _ => 0.1,
    CustomParser = r => OptionParsers.Duration(r, allowZero: true),
};
var output = new Option<string?>("--output")
{
    Description = "Write the final counters to this HDF5 file (snapshot layout, /state/count)",
    HelpName = "FILE",
    CustomParser = OptionParsers.NonEmpty,
};
var reportEvery = new Option<long>("--report-every")
{
    Description = "Print progress every N steps (0 = never)",
    DefaultValueFactory = _ => 10,
    CustomParser = r => OptionParsers.Count(r, min: 0),
};

var root = new RootCommand("Counter: the smallest complete Coordinated app (checkpointed global counters).")
{
    counters, to, stepSeconds, output, reportEvery,
};

return CoordinatedApp.Run(root, args, context =>
{
    long k = context.Parse.GetValue(counters);
    long steps = context.Parse.GetValue(to);
    var world = context.World;
    var (first, count) = Partition.Block(k, world.Size, world.Rank);
    long[] local = new long[count];

    using var checkpointer = context.CreateCheckpointer("counter");
    checkpointer.AddParameter("counters", k);
    checkpointer.Register("count", local, first, k);

    long step = checkpointer.Restore();
    long every = context.Parse.GetValue(reportEvery);
    var sleep = TimeSpan.FromSeconds(context.Parse.GetValue(stepSeconds));
    if (world.IsRoot)
    {
        Console.WriteLine($"counter: {k} counters on {world.Size} rank(s), step {step} -> {steps}");
    }

    while (step < steps)
    {
        if (sleep > TimeSpan.Zero)
        {
            Thread.Sleep(sleep);
        }

        for (int i = 0; i < local.Length; i++)
        {
            local[i]++;
        }

        step++;
        if (world.IsRoot && every > 0 && step % every == 0)
        {
            Console.WriteLine($"counter: step {step}/{steps}");
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
    }

    if (world.IsRoot)
    {
        Console.WriteLine($"counter: finished at step {step}");
    }

    return ExitCodes.Success;
});

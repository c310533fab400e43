using System.Globalization;
using System.Text.RegularExpressions;
using Coordinated.Checkpointing;

namespace Coordinated.Study;

/// <summary>What the study measures before the sweep, for the chosen NBody size and rank count.</summary>
/// <param name="StepSeconds">Wall time of one NBody step (from the progress lines of an uninterrupted run).</param>
/// <param name="StartupSeconds">Launch to the first step of a fresh run (mpirun, .NET, MPI_Init, initial conditions).</param>
/// <param name="CheckpointCosts">Costs of committed periodic checkpoints (metrics.jsonl total_s).</param>
/// <param name="RestartTimes">Launch to the first step of runs that resume from a snapshot (start-up + read + verify).</param>
/// <param name="ReadVerifySeconds">The read + verify part of a restart (metrics.jsonl restart total_s, mean).</param>
/// <param name="Steps">The fixed amount of work every trial does.</param>
internal sealed record Measurements(
    double StepSeconds, double StartupSeconds, IReadOnlyList<double> CheckpointCosts, IReadOnlyList<double> RestartTimes,
    double ReadVerifySeconds, long Steps)
{
    /// <summary>C as measured before the sweep.</summary>
    public double CheckpointSeconds => CheckpointCosts.Average();

    /// <summary>R as measured before the sweep.</summary>
    public double RestartSeconds => RestartTimes.Average();
}

/// <summary>Runs NBody for the study: the calibration runs and the launches of each trial.</summary>
internal sealed partial class NBodyRunner(StudySettings settings, string runsDirectory, Progress progress)
{
    private static readonly TimeSpan s_calibrationTimeout = TimeSpan.FromMinutes(5);

    [GeneratedRegex(@"^nbody: step (\d+)/")]
    private static partial Regex ProgressLine();

    [GeneratedRegex(@"^nbody: \d+ particles .* step (\d+) -> (\d+)")]
    private static partial Regex HeaderLine();

    public StudySettings Settings => settings;

    /// <summary>Measures step time, start-up, C and R, and sets the number of steps of the fixed work.</summary>
    public Measurements Calibrate()
    {
        // 1. Step time and start-up: a fresh run stopped by --max-runtime, progress every 10 steps.
        progress.Say("calibration: step time and start-up (fresh run, no checkpoints)");
        string stepsDir = FreshDirectory("calibrate-steps");
        double startup, stepSeconds;
        using (MpiJob job = Launch(stepsDir, long.MaxValue / 2, "--max-runtime", settings.Quick ? "2.5" : "4", "--report-every", "10"))
        {
            Finish(job, ExitCodes.Stopped, "the step-time run");
            startup = HeaderSeconds(job);
            stepSeconds = StepSeconds(job);
        }

        // 2. C: a run that checkpoints every 0.25 s until --max-runtime stops it.
        progress.Say($"calibration: checkpoint cost C (checkpoint every 0.25 s; step {stepSeconds * 1000:F1} ms, start-up {startup:F2} s)");
        string costDir = FreshDirectory("calibrate-cost");
        using (MpiJob job = Launch(costDir, long.MaxValue / 2, "--checkpoint-every-seconds", "0.25", "--max-runtime", settings.Quick ? "3" : "6"))
        {
            Finish(job, ExitCodes.Stopped, "the checkpoint-cost run");
        }

        var costMetrics = Metrics.Read(Path.Combine(costDir, "metrics.jsonl"));
        var costs = costMetrics.Checkpoints("every-seconds");
        if (costs.Count < 3)
        {
            throw new StudyException($"the checkpoint-cost run committed only {costs.Count} periodic checkpoints (need 3); is the machine very busy?");
        }

        double cost = costs.Average();
        long lastStep = costMetrics.LastCheckpointStep
            ?? throw new StudyException("the checkpoint-cost run left no committed snapshot");

        // 3. R: resume from that snapshot with --steps equal to its step: start-up, read, verify, and nothing to compute.
        progress.Say($"calibration: restart cost R (C = {cost:F3} s over {costs.Count} checkpoints)");
        var restarts = new List<double>();
        for (int i = 0; i < settings.Repeats; i++)
        {
            using MpiJob job = Launch(costDir, lastStep);
            Finish(job, ExitCodes.Success, "a restart run");
            restarts.Add(HeaderSeconds(job));
        }

        double readVerify = Metrics.Read(Path.Combine(costDir, "metrics.jsonl")).Restarts.DefaultIfEmpty(double.NaN).Average();

        long steps = Math.Max(10, (long)Math.Round(settings.WorkSeconds / stepSeconds));
        return new Measurements(stepSeconds, startup, costs, restarts, readVerify, steps);
    }

    /// <summary>
    /// The failure-free reference: <paramref name="steps"/> steps without periodic checkpoints, timed from launch to
    /// exit. Returns that time.
    /// </summary>
    public double Baseline(string name, long steps)
    {
        using MpiJob job = Launch(FreshDirectory(name), steps, "--report-every", "0", "--quiet");
        Finish(job, ExitCodes.Success, "the failure-free run");
        return job.ExitSeconds;
    }

    /// <summary>Launches NBody on the trial's checkpoint directory: <paramref name="steps"/> steps, checkpoints every <paramref name="interval"/> s.</summary>
    public MpiJob LaunchTrial(string directory, long steps, double interval) =>
        Launch(directory, steps, "--checkpoint-every-seconds", interval.ToString("R", CultureInfo.InvariantCulture), "--report-every", "0");

    /// <summary>
    /// The checkpoints <paramref name="job"/> committed in <paramref name="directory"/>, from the runtime's
    /// metrics.jsonl (each event is appended right after its commit): when (seconds from launch), the trigger, and its cost.
    /// </summary>
    public static List<(double Seconds, string Trigger, double Cost)> Checkpoints(MpiJob job, string directory) =>
        [.. MetricsLog.Read(Path.Combine(directory, "metrics.jsonl")).OfType<CheckpointEvent>()
            .Where(e => e.TimeUtc >= job.StartedUtc)
            .Select(e => ((e.TimeUtc - job.StartedUtc).TotalSeconds, e.Trigger, e.TotalSeconds))];

    public string FreshDirectory(string name)
    {
        string path = Path.Combine(runsDirectory, name);
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }

        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>
    /// Launches NBody: <paramref name="steps"/> steps on the study's size, snapshots in <paramref name="checkpointDirectory"/>;
    /// on the study's pseudo-nodes when it has more than one (<see cref="NodeName"/>).
    /// </summary>
    public MpiJob Launch(string checkpointDirectory, long steps, params string[] more) =>
        MpiJob.Start(
            MpiRun.Command(settings.Ranks, settings.Nodes, NodeName, settings.NBodyDll,
                ["--particles", settings.Particles.ToString(CultureInfo.InvariantCulture), "--steps", steps.ToString(CultureInfo.InvariantCulture),
                 "--seed", "1", "--checkpoint-dir", checkpointDirectory, .. more]),
            runsDirectory);

    /// <summary>The COORDINATED_NODE of pseudo-node <paramref name="node"/> (also its local directory's name, through %N).</summary>
    public static string NodeName(int node) => $"n{node}";

    public static void Finish(MpiJob job, int expected, string what)
    {
        if (!job.WaitForExit(s_calibrationTimeout))
        {
            job.KillNine();
            throw new StudyException($"{what} did not finish within {s_calibrationTimeout.TotalMinutes} minutes.\n{job.Output}");
        }

        if (job.ExitCode != expected)
        {
            throw new StudyException($"{what} exited with {job.ExitCode} (expected {expected}):\n{job.Output}");
        }
    }

    /// <summary>Seconds from the launch to NBody's first line, printed once the state is set up (restored or initial).</summary>
    public static double? FirstStepSeconds(MpiJob job) => job.Lines(HeaderLine()) is [var first, ..] ? first.Seconds : null;

    /// <summary>The step a launch started from (0: fresh, nothing was resumed), from NBody's header line.</summary>
    public static long? StartStep(MpiJob job) =>
        job.Lines(HeaderLine()) is [var first, ..] ? long.Parse(first.Match.Groups[1].Value, CultureInfo.InvariantCulture) : null;

    private static double HeaderSeconds(MpiJob job) =>
        FirstStepSeconds(job) ?? throw new StudyException($"no 'nbody: N particles ...' line in:\n{job.Output}");

    /// <summary>(time of the last progress line - time of the first) / steps between them.</summary>
    private static double StepSeconds(MpiJob job)
    {
        var lines = job.Lines(ProgressLine());
        if (lines.Count < 2)
        {
            throw new StudyException($"too few progress lines to time a step (is the machine very busy?):\n{job.Output}");
        }

        long firstStep = long.Parse(lines[0].Match.Groups[1].Value, CultureInfo.InvariantCulture);
        long lastStep = long.Parse(lines[^1].Match.Groups[1].Value, CultureInfo.InvariantCulture);
        return (lines[^1].Seconds - lines[0].Seconds) / (lastStep - firstStep);
    }
}

/// <summary>The checkpoint and restart events the runtime appended to a checkpoint directory's metrics.jsonl.</summary>
internal sealed class Metrics(IReadOnlyList<MetricsEvent> events)
{
    public static Metrics Read(string path) => new(MetricsLog.Read(path));

    /// <summary>total_s of every committed checkpoint with this trigger.</summary>
    public List<double> Checkpoints(string trigger) =>
        [.. events.OfType<CheckpointEvent>().Where(e => e.Trigger == trigger).Select(e => e.TotalSeconds)];

    /// <summary>total_s (read + verify) of every restart.</summary>
    public List<double> Restarts => [.. events.OfType<RestartEvent>().Select(e => e.TotalSeconds)];

    public long? LastCheckpointStep => events.OfType<CheckpointEvent>().Select(e => (long?)e.Step).LastOrDefault();
}

/// <summary>A study that cannot go on; the message says why. Exit 1.</summary>
internal sealed class StudyException(string message) : Exception(message);

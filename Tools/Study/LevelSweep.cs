using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Coordinated.Checkpointing;

namespace Coordinated.Study;

/// <summary>One configuration of the level comparison.</summary>
/// <param name="Multi">False: global-only (every checkpoint is a global snapshot). True: local + partner, global every K.</param>
/// <param name="Interval">tau: --checkpoint-every-seconds.</param>
/// <param name="GlobalEvery">K: --global-every (1 for global-only).</param>
internal sealed record LevelConfig(bool Multi, double Interval, int GlobalEvery)
{
    /// <summary>The <c>levels</c> column: "global" or "multi".</summary>
    public string Levels => Multi ? "multi" : "global";

    public string Label => Multi
        ? string.Create(CultureInfo.InvariantCulture, $"multi-level tau {Interval:0.###} s, K {GlobalEvery}")
        : string.Create(CultureInfo.InvariantCulture, $"global-only tau {Interval:0.###} s");

    public string DirectoryName => Multi
        ? string.Create(CultureInfo.InvariantCulture, $"multi-{Interval:0.###}-k{GlobalEvery}")
        : string.Create(CultureInfo.InvariantCulture, $"global-{Interval:0.###}");
}

/// <summary>A committed checkpoint as metrics.jsonl records it, placed on its launch's clock.</summary>
/// <param name="Seconds">From the launch to the event (written right after the commit).</param>
/// <param name="Level">"local", "local+partner" or "global" (a runtime without levels: "global").</param>
internal sealed record LevelCheckpoint(double Seconds, long Step, string Trigger, double Cost, string Level)
{
    public bool Periodic => Trigger == "every-seconds";

    public bool Global => Level == "global";
}

/// <summary>One launch of a trial, as measured.</summary>
/// <param name="FirstStepSeconds">Launch to NBody's first line (state set up: restored or initial); null if killed before.</param>
/// <param name="StartStep">The step it started from (0: fresh); null if killed before its first line.</param>
/// <param name="EndSeconds">Launch to its exit, or to the kill.</param>
/// <param name="Failure">The failure that killed it; null for the launch that finished.</param>
/// <param name="RestartLevel">What rank 0 said it restarted from ("restart level: X ..."), null if it did not say.</param>
/// <param name="Checkpoints">Its committed checkpoints.</param>
internal sealed record LevelLaunch(
    double? FirstStepSeconds, long? StartStep, double EndSeconds, NodeFailure? Failure, string? RestartLevel, IReadOnlyList<LevelCheckpoint> Checkpoints)
{
    /// <summary>A relaunch that resumed from a snapshot: the level it came from, "global" when the runtime did not say.</summary>
    public string? ResumedFrom => StartStep > 0 ? RestartLevel ?? "global" : null;
}

/// <summary>One trial: a configuration run to the end under the trial's node failures.</summary>
/// <param name="Steps">The work of this run in steps (aimed at --work seconds with the step time of the run before).</param>
internal sealed record LevelTrial(LevelConfig Config, int Trial, IReadOnlyList<LevelLaunch> Launches, double MakespanSeconds, long Steps)
{
    public int Failures => Launches.Count(l => l.Failure is not null);

    public int DoubleFailures => Launches.Count(l => l.Failure?.TakesTwo == true);

    /// <summary>
    /// The failure-free time of the work, from the measured events: following the result back from the launch that
    /// finished, each launch contributes from its first step to the commit the next one resumed from (or to its exit),
    /// less the periodic checkpoints in between; the launch that started fresh adds its start-up. A double failure
    /// that loses the local level thus also loses the work after the newest global snapshot. A commit whose metrics
    /// event the kill prevented counts at the kill's instant.
    /// </summary>
    public double WorkSeconds
    {
        get
        {
            int i = Launches.Count - 1;
            double until = Launches[i].EndSeconds, work = 0;
            while (true)
            {
                LevelLaunch launch = Launches[i];
                double first = launch.FirstStepSeconds ?? throw new StudyException($"{Config.Label}: launch {i + 1} is in the result but never printed its first line");
                double periodic = launch.Checkpoints.Where(c => c.Seconds <= until && c.Trigger != "final").Sum(c => c.Cost);
                work += Math.Max(0, until - first - periodic);
                long from = launch.StartStep!.Value;
                if (from == 0)
                {
                    return work + first;
                }

                int j = i - 1;
                while (j >= 0 && !Launches[j].Checkpoints.Any(c => c.Step == from))
                {
                    j--;
                }

                if (j >= 0)
                {
                    until = Launches[j].Checkpoints.Last(c => c.Step == from).Seconds;
                }
                else
                {
                    // The kill came between a commit and its metrics event (rank 0 appends it right after the commit):
                    // the launch before was working on that step when it was killed, so the commit is the kill's instant.
                    j = i - 1;
                    while (j >= 0 && !(Launches[j].StartStep <= from))
                    {
                        j--;
                    }

                    if (j < 0)
                    {
                        throw new StudyException($"{Config.Label}: launch {i + 1} resumed from step {from}, which no earlier launch reached");
                    }

                    until = Launches[j].EndSeconds;
                }

                i = j;
            }
        }
    }

    /// <summary>(makespan - work) / makespan.</summary>
    public double Waste => (MakespanSeconds - WorkSeconds) / MakespanSeconds;

    /// <summary>Seconds of every periodic checkpoint committed, of every launch (also those whose work was lost).</summary>
    public double CheckpointSeconds => Periodic.Sum(c => c.Cost);

    /// <summary>Seconds of starting again: launch to first step of every relaunch, and all of a launch killed before its first step.</summary>
    public double RestartSeconds => Launches.Select((l, i) => l.FirstStepSeconds is double first ? (i > 0 ? first : 0) : l.EndSeconds).Sum();

    /// <summary>The rest of the waste: computation lost to the failures (and the moments between a kill and the next launch).</summary>
    public double ReworkSeconds => MakespanSeconds - WorkSeconds - CheckpointSeconds - RestartSeconds;

    public IEnumerable<LevelCheckpoint> Periodic => Launches.SelectMany(l => l.Checkpoints).Where(c => c.Periodic);

    /// <summary>Launch to first step of each relaunch that resumed from <paramref name="level"/>'s group ("global" or "local": local and partner).</summary>
    public IEnumerable<double> RestartTimes(bool global) => Launches
        .Where(l => l.ResumedFrom is string from && (from == "global") == global && l.FirstStepSeconds is not null)
        .Select(l => l.FirstStepSeconds!.Value);

    public int Restarts(string level) => Launches.Count(l => l.ResumedFrom == level);
}

/// <summary>
/// Runs the level comparison's trials: trial k of every configuration meets the same node failures (times, kinds,
/// nodes). A node failure is kill -9 of every process of the job and the deletion of the failed pseudo-nodes' local
/// directories (their node-local storage is gone); the next launch starts at once and restarts from what is left.
/// </summary>
internal sealed partial class LevelSweep(NBodyRunner runner, Measurements measured, Progress progress)
{
    [GeneratedRegex(@"restart level: (\w+)")]
    private static partial Regex RestartLevelLine();

    public List<LevelTrial> Run(IReadOnlyList<LevelConfig> configs)
    {
        var settings = runner.Settings;
        var results = new List<LevelTrial>();
        int total = configs.Count * settings.Trials, done = 0;
        long steps = measured.Steps;
        for (int trial = 0; trial < settings.Trials; trial++)
        {
            // Every other round runs the configurations in reverse, so a drift of the machine's speed over a round
            // does not always favour the same ones.
            foreach (LevelConfig config in trial % 2 == 0 ? configs : configs.Reverse())
            {
                if (results.Count > 0)
                {
                    // The machine's speed drifts by several times within minutes: each run re-aims the work at --work
                    // seconds with the step time the run before measured (its work, less one start-up, per step), so
                    // that every run is exposed to the failures for about as long.
                    LevelTrial last = results[^1];
                    double step = Math.Max(0.05 * last.WorkSeconds, last.WorkSeconds - measured.StartupSeconds) / last.Steps;
                    steps = Math.Max(10, (long)Math.Round(settings.WorkSeconds / step));
                }

                done++;
                string label = string.Create(CultureInfo.InvariantCulture, $"run {done}/{total}: {config.Label}, trial {trial + 1}/{settings.Trials}, {steps} steps");
                LevelTrial result = RunTrial(config, trial, steps, label);
                progress.Say(string.Create(CultureInfo.InvariantCulture,
                    $"{label}: done in {result.MakespanSeconds:F1} s, {result.Failures} failure(s) ({result.DoubleFailures} double), " +
                    $"restarts local {result.Restarts("local")} partner {result.Restarts("partner")} global {result.Restarts("global")}, " +
                    $"work {result.WorkSeconds:F1} s, waste {result.Waste:P1} (checkpoints {result.CheckpointSeconds:F1} s, restarts {result.RestartSeconds:F1} s, rework {result.ReworkSeconds:F1} s)"));
                results.Add(result);
            }
        }

        return results;
    }

    private LevelTrial RunTrial(LevelConfig config, int trial, long steps, string label)
    {
        var settings = runner.Settings;
        string name = string.Create(CultureInfo.InvariantCulture, $"{config.DirectoryName}-trial-{trial + 1}");
        string directory = runner.FreshDirectory(name);
        string? local = config.Multi ? LocalRoot(name) : null;
        var schedule = new NodeFailureSchedule(settings.MtbfSeconds, settings.Seed, trial, settings.Nodes, settings.DoubleFraction);
        var launches = new List<LevelLaunch>();
        double limit = Math.Max(120, 25 * settings.WorkSeconds);
        var clock = Stopwatch.StartNew();
        try
        {
            while (true)
            {
                NodeFailure failure = schedule.Next();
                using MpiJob job = Launch(directory, local, config, steps);
                bool exited = job.WaitForExit(TimeSpan.FromSeconds(failure.AtSeconds));
                if (!exited)
                {
                    job.KillNine();
                    foreach (int node in local is null ? [] : failure.Nodes)
                    {
                        DeleteDirectory(Path.Combine(local!, NBodyRunner.NodeName(node))); // its node-local storage is gone
                    }
                }
                else if (job.ExitCode != ExitCodes.Success)
                {
                    throw new StudyException($"{label}: NBody exited with {job.ExitCode} after {launches.Count} failure(s):\n{job.Output}");
                }

                var restartLine = job.Lines(RestartLevelLine());
                launches.Add(new LevelLaunch(
                    NBodyRunner.FirstStepSeconds(job), NBodyRunner.StartStep(job), job.ExitSeconds, exited ? null : failure,
                    restartLine is [var line, ..] ? line.Match.Groups[1].Value : null, Checkpoints(job, directory)));
                if (exited)
                {
                    if (launches[^1].FirstStepSeconds is null)
                    {
                        throw new StudyException($"{label}: NBody finished without printing its first line:\n{job.Output}");
                    }

                    break;
                }

                progress.Say(string.Create(CultureInfo.InvariantCulture,
                    $"{label}: kill -9 at {failure.AtSeconds:F1} s into launch {launches.Count}, node(s) {string.Join("+", failure.Nodes.Select(NBodyRunner.NodeName))} lost; elapsed {clock.Elapsed.TotalSeconds:F1} s; restarting"));
                if (clock.Elapsed.TotalSeconds > limit)
                {
                    throw new StudyException(string.Create(CultureInfo.InvariantCulture,
                        $"{label}: not finished after {limit:F0} s and {launches.Count} failures; M = {settings.MtbfSeconds} s is too short for a restart cost of {measured.RestartSeconds:F2} s"));
                }
            }
        }
        finally
        {
            if (local is not null)
            {
                DeleteDirectory(local);
            }
        }

        double makespan = clock.Elapsed.TotalSeconds;
        foreach (string snapshot in Directory.EnumerateFiles(directory, "*.h5"))
        {
            File.Delete(snapshot); // metrics.jsonl stays; the snapshots are only disk space now
        }

        return new LevelTrial(config, trial, launches, makespan, steps);
    }

    /// <summary>Launches one run of <paramref name="config"/>: NBody on the study's pseudo-nodes, the fixed steps.</summary>
    private MpiJob Launch(string directory, string? local, LevelConfig config, long steps) =>
        runner.Launch(directory, steps, LevelArguments(config, local, "--report-every", "0"));

    /// <summary>The checkpoint flags of <paramref name="config"/>: the interval, and for multi-level the local directory (one per node, %N) and K.</summary>
    public static string[] LevelArguments(LevelConfig config, string? local, params string[] more) =>
    [
        "--checkpoint-every-seconds", config.Interval.ToString("R", CultureInfo.InvariantCulture),
        .. config.Multi
            ? (string[])["--checkpoint-local-dir", Path.Combine(local!, "%N"), "--global-every", config.GlobalEvery.ToString(CultureInfo.InvariantCulture)]
            : [],
        .. more,
    ];

    /// <summary>
    /// The costs of the periodic checkpoints of some launches, by kind: a local + partner one, and the K-th, which
    /// the runtime writes locally (with its partner copy) and then globally: the cost of that step is both events'.
    /// </summary>
    public static (List<double> Local, List<double> Global) PeriodicCosts(IEnumerable<IReadOnlyList<LevelCheckpoint>> launches)
    {
        var local = new List<double>();
        var global = new List<double>();
        foreach (var checkpoints in launches)
        {
            var periodic = checkpoints.Where(c => c.Periodic).ToList();
            foreach (var step in periodic.GroupBy(c => c.Step))
            {
                (step.Any(c => c.Global) ? global : local).Add(step.Sum(c => c.Cost));
            }
        }

        return (local, global);
    }

    /// <summary>A fresh node-local root for one trial or calibration run: BASE/NAME (each node's directory below it).</summary>
    public string LocalRoot(string name)
    {
        string root = Path.Combine(runner.Settings.LocalBase, name);
        DeleteDirectory(root);
        Directory.CreateDirectory(root);
        return root;
    }

    public static void DeleteDirectory(string path)
    {
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
    }

    /// <summary>
    /// The checkpoints <paramref name="job"/> committed in <paramref name="directory"/>, from the runtime's metrics.jsonl
    /// (one event per commit, appended right after it), with their level.
    /// </summary>
    public static List<LevelCheckpoint> Checkpoints(MpiJob job, string directory) =>
        [.. MetricsLog.Read(Path.Combine(directory, "metrics.jsonl")).OfType<CheckpointEvent>()
            .Where(e => e.TimeUtc >= job.StartedUtc)
            .Select(e => new LevelCheckpoint((e.TimeUtc - job.StartedUtc).TotalSeconds, e.Step, e.Trigger, e.TotalSeconds, LevelOf(e)))];

    private static string LevelOf(CheckpointEvent e) => e.Level;
}

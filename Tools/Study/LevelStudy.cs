using System.Globalization;
using Coordinated.Checkpointing;

namespace Coordinated.Study;

/// <summary>What the level calibration measured: the costs of the multi-level run's two kinds of checkpoint.</summary>
/// <param name="LocalCosts">total_s of its periodic local + partner checkpoints.</param>
/// <param name="GlobalCosts">Cost of its periodic global checkpoints (every K-th, written locally too: both total_s).</param>
/// <param name="LocalRestarts">Launch to first step of restarts from the local or partner level.</param>
/// <param name="GlobalRestarts">Launch to first step of restarts from the global level.</param>
internal sealed record LevelCalibration(
    IReadOnlyList<double> LocalCosts, IReadOnlyList<double> GlobalCosts, IReadOnlyList<double> LocalRestarts, IReadOnlyList<double> GlobalRestarts);

/// <summary>
/// The level comparison (<c>--compare-levels</c>): global-only checkpoints against local + partner + global every K,
/// under node failures at the same seeded times and MTBF, each swept around its model's optimum (Young/Daly for
/// global-only, the two-level model for multi-level). See docs/STUDY.md.
/// </summary>
internal static class LevelStudy
{
    /// <summary>K of the calibration run that measures the two multi-level checkpoint costs.</summary>
    private const int CalibrationGlobalEvery = 4;

    public static int Run(StudySettings settings, Progress progress)
    {
        string runs = Path.Combine(settings.OutDirectory, "runs");
        Directory.CreateDirectory(runs);
        Directory.CreateDirectory(settings.LocalBase);
        try
        {
            var runner = new NBodyRunner(settings, runs, progress);
            Measurements measured = runner.Calibrate();
            if (!StudyMain.MtbfCoversRestarts(settings, measured))
            {
                return ExitCodes.Usage;
            }

            var sweep = new LevelSweep(runner, measured, progress);
            LevelCalibration levels = CalibrateLevels(runner, sweep, progress);
            IReadOnlyList<LevelConfig> configs = Configurations(settings, measured, levels, out string why);
            progress.Say(why);

            List<LevelTrial> trials = sweep.Run(configs);
            StudyMain.Write(new LevelReport(settings, measured, levels, configs, trials), settings.OutDirectory, "levels", progress);
            return ExitCodes.Success;
        }
        finally
        {
            LevelSweep.DeleteDirectory(settings.LocalBase);
        }
    }

    /// <summary>
    /// A multi-level run (local + partner, global every 4, a checkpoint every 0.25 s), killed with kill -9 after a few
    /// seconds: the cost of each kind of checkpoint. Then restarts from what it left, timed from launch to first step
    /// and sorted by the level they report: after deleting node n0's local directory (a node failure; the partner
    /// level), and after deleting every node's (the global level).
    /// </summary>
    private static LevelCalibration CalibrateLevels(NBodyRunner runner, LevelSweep sweep, Progress progress)
    {
        var settings = runner.Settings;
        progress.Say($"calibration: multi-level checkpoint costs (local + partner on {settings.Nodes} pseudo-nodes, global every {CalibrationGlobalEvery}, a checkpoint every 0.25 s)");
        string directory = runner.FreshDirectory("calibrate-levels");
        string local = sweep.LocalRoot("calibrate-levels");
        var config = new LevelConfig(Multi: true, 0.25, CalibrationGlobalEvery);
        List<LevelCheckpoint> checkpoints;
        using (MpiJob job = runner.Launch(directory, long.MaxValue / 2, LevelSweep.LevelArguments(config, local, "--report-every", "0")))
        {
            if (job.WaitForExit(TimeSpan.FromSeconds(settings.Quick ? 3 : 6)))
            {
                throw new StudyException($"the multi-level checkpoint-cost run exited with {job.ExitCode} before it was killed:\n{job.Output}");
            }

            job.KillNine();
            checkpoints = LevelSweep.Checkpoints(job, directory);
        }

        var (localCosts, globalCosts) = LevelSweep.PeriodicCosts([checkpoints]);
        if (localCosts.Count == 0)
        {
            throw new StudyException(
                $"the multi-level run committed no local checkpoint ({checkpoints.Count} checkpoints, all global; is the machine very busy?). See {Path.Combine(directory, "metrics.jsonl")}");
        }

        long last = checkpoints.Max(c => c.Step);
        var localRestarts = new List<double>();
        var globalRestarts = new List<double>();
        for (int i = 0; i <= settings.Repeats; i++)
        {
            // Repeats times a one-node failure, then one that takes every node's local directory.
            LevelSweep.DeleteDirectory(i < settings.Repeats ? Path.Combine(local, NBodyRunner.NodeName(0)) : local);
            using MpiJob job = runner.Launch(directory, last, LevelSweep.LevelArguments(config, local, "--report-every", "0"));
            NBodyRunner.Finish(job, ExitCodes.Success, "a multi-level restart run");
            double first = NBodyRunner.FirstStepSeconds(job) ?? throw new StudyException($"no first line in:\n{job.Output}");
            (job.Output.Contains("restart level: global", StringComparison.Ordinal) ? globalRestarts : localRestarts).Add(first);
        }

        LevelSweep.DeleteDirectory(local);
        progress.Say(string.Create(CultureInfo.InvariantCulture,
            $"calibration: local + partner C = {Mean(localCosts):F3} s over {localCosts.Count}, global C = {Mean(globalCosts):F3} s over {globalCosts.Count} (with its local copy); " +
            $"restarts: {localRestarts.Count} from local/partner ({Mean(localRestarts):F2} s), {globalRestarts.Count} from global ({Mean(globalRestarts):F2} s)"));
        return new LevelCalibration(localCosts, globalCosts, localRestarts, globalRestarts);
    }

    /// <summary>
    /// The configurations swept: global-only at Daly's interval for the measured global cost (and at half and twice
    /// it), multi-level at the two-level model's optimum (tau*, K*) (and at tau*/2, 2 tau*, 3 K*, and where
    /// Young/Daly per level puts it); --quick: the two optima only. Costs are those of the calibration (R of the global-only runs where a level has no restart yet).
    /// </summary>
    internal static IReadOnlyList<LevelConfig> Configurations(StudySettings settings, Measurements measured, LevelCalibration levels, out string why)
    {
        double m = settings.MtbfSeconds, r = measured.RestartSeconds;
        var global = new LevelCost(measured.CheckpointSeconds, r);
        var local = new LevelCost(Mean(levels.LocalCosts), levels.LocalRestarts.Count > 0 ? Mean(levels.LocalRestarts) : r);
        var multiGlobal = new LevelCost(
            levels.GlobalCosts.Count > 0 ? Mean(levels.GlobalCosts) : global.Checkpoint, levels.GlobalRestarts.Count > 0 ? Mean(levels.GlobalRestarts) : r);
        double daly = OptimalInterval.Daly(global.Checkpoint, m);
        var (tau, k, _) = TwoLevelModel.Optimum(local, multiGlobal, m, settings.DoubleFraction, daly / 50, m);
        double[] globalTaus = settings.Quick ? [daly] : [daly / 2, daly, 2 * daly];
        var (ydTau, ydK) = TwoLevelModel.YoungDalyPerLevel(local, multiGlobal, m, settings.DoubleFraction);
        (double, int)[] multi = settings.Quick
            ? [(tau, k)]
            : [(tau / 2, k), (tau, k), (2 * tau, k), (tau, Math.Min(TwoLevelModel.MaxGlobalEvery, 3 * k)), (ydTau, ydK)];
        LevelConfig[] configs =
        [
            .. globalTaus.Select(t => new LevelConfig(false, StudyMain.TwoSignificantDigits(t), 1)),
            .. multi.Select(p => new LevelConfig(true, StudyMain.TwoSignificantDigits(p.Item1), p.Item2)),
        ];
        configs = [.. configs.Distinct()];
        why = string.Create(CultureInfo.InvariantCulture,
            $"calibrated: step {1000 * measured.StepSeconds:F2} ms, work {measured.Steps} steps; global-only C = {global.Checkpoint:F3} s, R = {r:F2} s, Daly {daly:F2} s; " +
            $"multi-level C = {local.Checkpoint:F3} s (local + partner) / {multiGlobal.Checkpoint:F3} s (global), R = {local.Restart:F2} / {multiGlobal.Restart:F2} s, two-level optimum tau {tau:F2} s, K {k} " +
            $"(M = {m:0.###} s, {100 * settings.DoubleFraction:0.#} % of failures take two neighbouring nodes); sweeping {configs.Length} configurations x {settings.Trials} trials");
        return configs;
    }

    internal static double Mean(IEnumerable<double> values) => values.DefaultIfEmpty(double.NaN).Average();
}

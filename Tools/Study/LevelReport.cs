using System.Globalization;
using System.Text;
using Coordinated.Checkpointing;

namespace Coordinated.Study;

/// <summary>The level comparison's outcome: levels.parquet (one row per trial), levels.png (gnuplot) and the summary.</summary>
internal sealed class LevelReport : IStudyReport
{
    private static readonly CultureInfo s_invariant = CultureInfo.InvariantCulture;

    private readonly StudySettings _settings;
    private readonly Measurements _measured;
    private readonly IReadOnlyList<LevelConfig> _configs;
    private readonly IReadOnlyList<LevelTrial> _trials;

    public LevelReport(StudySettings settings, Measurements measured, LevelCalibration levels, IReadOnlyList<LevelConfig> configs, IReadOnlyList<LevelTrial> trials)
    {
        _settings = settings;
        _measured = measured;
        _configs = configs;
        _trials = trials;
        var globalOnly = trials.Where(t => !t.Config.Multi).ToList();
        var multi = trials.Where(t => t.Config.Multi).ToList();

        // Every level's C and R over the whole comparison (calibration and trials), as the interval study does.
        GlobalOnlyCosts = [.. measured.CheckpointCosts, .. globalOnly.SelectMany(t => t.Periodic).Select(c => c.Cost)];
        GlobalOnlyRestarts = [.. measured.RestartTimes, .. globalOnly.SelectMany(t => t.RestartTimes(global: true))];
        var (local, global) = LevelSweep.PeriodicCosts(multi.SelectMany(t => t.Launches).Select(l => l.Checkpoints));
        LocalCosts = [.. levels.LocalCosts, .. local];
        MultiGlobalCosts = [.. levels.GlobalCosts, .. global];
        LocalRestarts = [.. levels.LocalRestarts, .. multi.SelectMany(t => t.RestartTimes(global: false))];
        MultiGlobalRestarts = [.. levels.GlobalRestarts, .. multi.SelectMany(t => t.RestartTimes(global: true))];

        GlobalOnly = new LevelCost(GlobalOnlyCosts.Average(), GlobalOnlyRestarts.Average());
        Local = new LevelCost(LocalCosts.Length > 0 ? LocalCosts.Average() : double.NaN, LocalRestarts.Length > 0 ? LocalRestarts.Average() : GlobalOnly.Restart);
        MultiGlobal = new LevelCost(
            MultiGlobalCosts.Length > 0 ? MultiGlobalCosts.Average() : GlobalOnly.Checkpoint,
            MultiGlobalRestarts.Length > 0 ? MultiGlobalRestarts.Average() : GlobalOnly.Restart);

        double m = settings.MtbfSeconds;
        Young = OptimalInterval.Young(GlobalOnly.Checkpoint, m);
        Daly = OptimalInterval.Daly(GlobalOnly.Checkpoint, m);
        double low = Math.Min(configs.Min(c => c.Interval), Daly) / 3, high = Math.Max(configs.Max(c => c.Interval), Daly) * 3;
        SingleOptimum = TwoLevelModel.SingleLevelOptimum(GlobalOnly, m, low, high).Tau;
        TwoLevelOptimum = TwoLevelModel.Optimum(Local, MultiGlobal, m, settings.DoubleFraction, low, high);
        PerLevelYoungDaly = TwoLevelModel.YoungDalyPerLevel(Local, MultiGlobal, m, settings.DoubleFraction);
        Grid = WasteModel.LogGrid(low, high, 300);
    }

    /// <summary>C and R of the global-only runs.</summary>
    public LevelCost GlobalOnly { get; }

    /// <summary>C of a local + partner checkpoint, R of a restart from the local or partner level.</summary>
    public LevelCost Local { get; }

    /// <summary>C of the multi-level runs' global checkpoints (the K-th: local copy and global snapshot), R of their restarts from the global level.</summary>
    public LevelCost MultiGlobal { get; }

    public double Young { get; }

    public double Daly { get; }

    /// <summary>The single-level model's optimum for the global-only runs.</summary>
    public double SingleOptimum { get; }

    /// <summary>The two-level model's optimum (tau*, K*) and its waste.</summary>
    public (double Tau, int GlobalEvery, double Waste) TwoLevelOptimum { get; }

    /// <summary>Young/Daly applied to each level on its own.</summary>
    public (double Tau, int GlobalEvery) PerLevelYoungDaly { get; }

    private double[] GlobalOnlyCosts { get; }

    private double[] GlobalOnlyRestarts { get; }

    private double[] LocalCosts { get; }

    private double[] MultiGlobalCosts { get; }

    private double[] LocalRestarts { get; }

    private double[] MultiGlobalRestarts { get; }

    private double[] Grid { get; }

    /// <summary>The model's waste for <paramref name="config"/>: single-level for global-only, two-level for multi-level.</summary>
    public double ModelWaste(LevelConfig config) => ModelWaste(config.Multi, config.Interval, config.GlobalEvery);

    public double ModelWaste(bool multi, double tau, int globalEvery) => multi
        ? TwoLevelModel.Waste(tau, globalEvery, Local, MultiGlobal, _settings.MtbfSeconds, _settings.DoubleFraction)
        : TwoLevelModel.SingleLevelWaste(tau, GlobalOnly, _settings.MtbfSeconds);

    /// <summary>Per configuration: mean and sd of the measured waste, and the means of the counts and of the waste's parts.</summary>
    public IEnumerable<(LevelConfig Config, double Mean, double Sd, double Failures, double Doubles, double Checkpoint, double Restart, double Rework)> PerConfig() =>
        _configs.Select(config =>
        {
            var at = _trials.Where(t => t.Config == config).ToList();
            double[] wastes = [.. at.Select(t => t.Waste)];
            double mean = wastes.Average();
            double sd = wastes.Length > 1 ? Math.Sqrt(wastes.Sum(w => (w - mean) * (w - mean)) / (wastes.Length - 1)) : 0;
            return (config, mean, sd, at.Average(t => t.Failures), at.Average(t => t.DoubleFailures),
                at.Average(t => t.CheckpointSeconds), at.Average(t => t.RestartSeconds), at.Average(t => t.ReworkSeconds));
        });

    public void WriteParquet(string path)
    {
        LevelRow[] rows = [.. _trials.Select(t => new LevelRow
        {
            Levels = t.Config.Levels,
            IntervalSeconds = t.Config.Interval,
            GlobalEvery = t.Config.GlobalEvery,
            Trial = t.Trial + 1,
            MtbfSeconds = _settings.MtbfSeconds,
            DoubleFraction = _settings.DoubleFraction,
            WorkSeconds = t.WorkSeconds,
            MakespanSeconds = t.MakespanSeconds,
            WasteFraction = t.Waste,
            CheckpointSeconds = t.CheckpointSeconds,
            RestartSeconds = t.RestartSeconds,
            ReworkSeconds = t.ReworkSeconds,
            ModelWasteFraction = ModelWaste(t.Config),
            Failures = t.Failures,
            DoubleFailures = t.DoubleFailures,
            CheckpointsLocal = t.Periodic.Count(c => !c.Global),
            CheckpointsGlobal = t.Periodic.Count(c => c.Global),
            RestartsLocal = t.Restarts("local"),
            RestartsPartner = t.Restarts("partner"),
            RestartsGlobal = t.Restarts("global"),
            Nodes = _settings.Nodes,
            Ranks = _settings.Ranks,
            Particles = _settings.Particles,
            Steps = t.Steps,
            StepSeconds = _measured.StepSeconds,
            Seed = _settings.Seed,
            KillTimesSeconds = string.Join(",", t.Launches.Where(l => l.Failure is not null).Select(l => l.Failure!.AtSeconds.ToString("F3", s_invariant))),
            FailedNodes = string.Join(",", t.Launches.Where(l => l.Failure is not null).Select(l => string.Join("+", l.Failure!.Nodes.Select(NBodyRunner.NodeName)))),
            RunDirectory = string.Create(s_invariant, $"{t.Config.DirectoryName}-trial-{t.Trial + 1}"),
        })];
        var metadata = new Dictionary<string, string>
        {
            ["model"] = "two-level Markov model after Moody et al. (SC10), exponential failures: waste = 1 - K tau / E[pattern time]; global-only: K = 1, every failure back to the global level",
            ["global_checkpoint_cost_s"] = D(GlobalOnly.Checkpoint),
            ["global_restart_cost_s"] = D(GlobalOnly.Restart),
            ["local_checkpoint_cost_s"] = D(Local.Checkpoint),
            ["local_restart_cost_s"] = D(Local.Restart),
            ["multi_global_checkpoint_cost_s"] = D(MultiGlobal.Checkpoint),
            ["multi_global_restart_cost_s"] = D(MultiGlobal.Restart),
            ["samples"] = string.Create(s_invariant,
                $"global-only C {GlobalOnlyCosts.Length}, R {GlobalOnlyRestarts.Length}; local C {LocalCosts.Length}, R {LocalRestarts.Length}; multi-level global C {MultiGlobalCosts.Length}, R {MultiGlobalRestarts.Length}"),
            ["young_s"] = D(Young),
            ["daly_s"] = D(Daly),
            ["single_level_optimum_s"] = D(SingleOptimum),
            ["two_level_optimum_s"] = D(TwoLevelOptimum.Tau),
            ["two_level_optimum_k"] = TwoLevelOptimum.GlobalEvery.ToString(s_invariant),
            ["two_level_optimum_waste"] = D(TwoLevelOptimum.Waste),
            ["per_level_young_daly_s"] = D(PerLevelYoungDaly.Tau),
            ["per_level_young_daly_k"] = PerLevelYoungDaly.GlobalEvery.ToString(s_invariant),
            ["nodes"] = _settings.Nodes.ToString(s_invariant),
            ["double_fraction"] = D(_settings.DoubleFraction),
            ["startup_s"] = D(_measured.StartupSeconds),
            ["quick"] = _settings.Quick ? "true" : "false",
        };
        Report.WriteParquetFile(rows, metadata, path);
    }

    public void Plot(string directory, string png)
    {
        string plot = Path.Combine(directory, "plot");
        Directory.CreateDirectory(plot);
        int k = TwoLevelOptimum.GlobalEvery;
        File.WriteAllLines(Path.Combine(plot, "levels-model.dat"),
            ["# interval_s global_only_model_percent multi_level_model_at_K*_percent", .. Grid.Select(tau => Report.Line(tau, 100 * ModelWaste(false, tau, 1), 100 * ModelWaste(true, tau, k)))]);
        var per = PerConfig().ToList();
        File.WriteAllLines(Path.Combine(plot, "levels-global.dat"),
            ["# interval_s mean_waste_percent sd_percent", .. per.Where(p => !p.Config.Multi).Select(p => Report.Line(p.Config.Interval, 100 * p.Mean, 100 * p.Sd))]);
        File.WriteAllLines(Path.Combine(plot, "levels-multi.dat"),
            ["# interval_s mean_waste_percent sd_percent K", .. per.Where(p => p.Config.Multi).Select(p => Report.Line(p.Config.Interval, 100 * p.Mean, 100 * p.Sd, p.Config.GlobalEvery))]);
        File.WriteAllLines(Path.Combine(plot, "levels-trials.dat"),
            ["# interval_s waste_percent multi(0/1) K trial", .. _trials.Select(t => Report.Line(t.Config.Interval, 100 * t.Waste, t.Config.Multi ? 1 : 0, t.Config.GlobalEvery, t.Trial + 1))]);

        string title = string.Create(s_invariant,
            $"NBody {_settings.Particles} particles, {_settings.Ranks} ranks on {_settings.Nodes} pseudo-nodes, M = {_settings.MtbfSeconds:0.##} s, {100 * _settings.DoubleFraction:0.#} % double-node failures, {_settings.Trials} trials");
        string script = Report.PlotPreamble(png, title) + string.Create(s_invariant, $$"""
            set arrow 1 from {{Daly:R}}, graph 0 to {{Daly:R}}, graph 1 nohead dashtype 2 linewidth 2 linecolor rgb '#1f77b4'
            set arrow 2 from {{TwoLevelOptimum.Tau:R}}, graph 0 to {{TwoLevelOptimum.Tau:R}}, graph 1 nohead dashtype 4 linewidth 2 linecolor rgb '#d62728'
            set label 1 sprintf('Daly (global) %.2f s', {{Daly:R}}) at {{Daly:R}}, graph 0.95 left offset 0.5,0 textcolor rgb '#1f77b4'
            set label 2 sprintf('two-level optimum %.2f s, K = {{k}}', {{TwoLevelOptimum.Tau:R}}) at {{TwoLevelOptimum.Tau:R}}, graph 0.90 right offset -0.5,0 textcolor rgb '#d62728'
            plot 'levels-model.dat' using 1:2 with lines linewidth 2 linecolor rgb '#1f77b4' title sprintf('model, global-only (C = %.3f s, R = %.2f s)', {{GlobalOnly.Checkpoint:R}}, {{GlobalOnly.Restart:R}}), \
                 'levels-model.dat' using 1:3 with lines linewidth 2 linecolor rgb '#d62728' title sprintf('two-level model, multi-level at K = {{k}} (C = %.3f / %.3f s)', {{Local.Checkpoint:R}}, {{MultiGlobal.Checkpoint:R}}), \
                 'levels-global.dat' using 1:2:3 with yerrorbars pointtype 7 pointsize 1.6 linecolor rgb '#1f77b4' title 'measured global-only, mean ± sd', \
                 'levels-multi.dat' using 1:2:3 with yerrorbars pointtype 5 pointsize 1.6 linecolor rgb '#d62728' title 'measured multi-level, mean ± sd', \
                 'levels-multi.dat' using 1:2:(sprintf('K=%d', $4)) with labels offset 2.2,0.8 textcolor rgb '#d62728' notitle, \
                 'levels-trials.dat' using 1:($3 == 0 ? $2 : 1/0) with points pointtype 6 pointsize 1 linecolor rgb '#1f77b4' title 'global-only, each trial', \
                 'levels-trials.dat' using 1:($3 == 1 ? $2 : 1/0) with points pointtype 4 pointsize 1 linecolor rgb '#d62728' title 'multi-level, each trial'
            """);
        Report.DrawPng(plot, "levels.gp", script, png);
    }

    public string Summary()
    {
        var s = new StringBuilder();
        string Pct(double x) => (100 * x).ToString("F1", s_invariant) + " %";
        s.AppendLine(string.Create(s_invariant,
            $"Level comparison: NBody {_settings.Particles} particles, {_settings.Ranks} ranks on {_settings.Nodes} pseudo-nodes, {StepsText()} steps, M = {_settings.MtbfSeconds:0.###} s, " +
            $"{100 * _settings.DoubleFraction:0.#} % of failures take two neighbouring nodes, {_configs.Count} configurations x {_settings.Trials} trials, seed {_settings.Seed}{(_settings.Quick ? " (--quick)" : "")}"));
        s.AppendLine(string.Create(s_invariant,
            $"Measured: step {1000 * _measured.StepSeconds:F2} ms; work {_trials.Average(t => t.WorkSeconds):F2} s (mean over the trials)"));
        s.AppendLine(string.Create(s_invariant,
            $"  global-only:  C = {GlobalOnly.Checkpoint:F3} s (mean of {GlobalOnlyCosts.Length}), R = {GlobalOnly.Restart:F2} s (launch to first step, mean of {GlobalOnlyRestarts.Length})"));
        s.AppendLine(string.Create(s_invariant,
            $"  multi-level:  C local+partner = {Local.Checkpoint:F3} s (mean of {LocalCosts.Length}), C global (K-th, with its local copy) = {MultiGlobal.Checkpoint:F3} s (mean of {MultiGlobalCosts.Length}), " +
            $"R local/partner = {Local.Restart:F2} s (mean of {LocalRestarts.Length}), R global = {MultiGlobal.Restart:F2} s (mean of {MultiGlobalRestarts.Length})"));
        s.AppendLine();
        s.AppendLine("levels  interval_s   K  failures  double  checkpoint_s  restart_s  rework_s  measured waste (mean ± sd)  model waste");
        var per = PerConfig().ToList();
        foreach (var p in per)
        {
            s.AppendLine(string.Create(s_invariant,
                $"{p.Config.Levels,-6}  {p.Config.Interval,10:0.###}  {p.Config.GlobalEvery,2}  {p.Failures,8:F1}  {p.Doubles,6:F1}  {p.Checkpoint,12:F2}  {p.Restart,9:F2}  {p.Rework,8:F2}  {100 * p.Mean,14:F1} % ± {100 * p.Sd,4:F1} %  {100 * ModelWaste(p.Config),9:F1} %"));
        }

        var bestGlobal = per.Where(p => !p.Config.Multi).MinBy(p => p.Mean);
        var bestMulti = per.Where(p => p.Config.Multi).MinBy(p => p.Mean);
        var (tau, k, waste) = TwoLevelOptimum;
        var (ydTau, ydK) = PerLevelYoungDaly;
        s.AppendLine();
        s.AppendLine(string.Create(s_invariant,
            $"Global-only:  Young sqrt(2CM) = {Young:F2} s, Daly = {Daly:F2} s (model waste {Pct(ModelWaste(false, Daly, 1))}); model optimum {SingleOptimum:F2} s; measured best {bestGlobal.Config.Interval:0.###} s: {Pct(bestGlobal.Mean)}"));
        s.AppendLine(string.Create(s_invariant,
            $"Multi-level:  two-level model (Moody et al.) optimum tau = {tau:F2} s, K = {k}: model waste {Pct(waste)}; measured {MeasuredAt(per, tau, k)}"));
        s.AppendLine(string.Create(s_invariant,
            $"              Young/Daly per level: tau = Daly(C local, M) = {ydTau:F2} s, K = Daly(C global, M/q) / (tau + C) = {ydK}: model waste {Pct(ModelWaste(true, ydTau, ydK))}; measured {MeasuredAt(per, ydTau, ydK)}"));
        s.AppendLine(string.Create(s_invariant,
            $"              measured best tau = {bestMulti.Config.Interval:0.###} s, K = {bestMulti.Config.GlobalEvery}: {Pct(bestMulti.Mean)} (model {Pct(ModelWaste(bestMulti.Config))})"));
        s.AppendLine();
        bool multiWins = bestMulti.Mean < bestGlobal.Mean;
        s.AppendLine(string.Create(s_invariant,
            $"Less waste: {(multiWins ? "multi-level" : "global-only")}, {Pct(Math.Min(bestMulti.Mean, bestGlobal.Mean))} against {Pct(Math.Max(bestMulti.Mean, bestGlobal.Mean))} (best of each; " +
            $"the models at their optima: multi-level {Pct(waste)}, global-only {Pct(ModelWaste(false, SingleOptimum, 1))})"));
        // Noise: the standard error of a configuration's mean, and the paired difference (trial k meets the same failures).
        double standardError = per.Select(p => p.Sd).Order().ElementAt(per.Count / 2) / Math.Sqrt(_settings.Trials);
        var atOptimum = per.Where(p => p.Config.Multi).MinBy(p => Distance(p.Config.Interval, p.Config.GlobalEvery, tau, k)).Config;
        var atDaly = per.Where(p => !p.Config.Multi).MinBy(p => Math.Abs(Math.Log(p.Config.Interval / Daly))).Config;
        double[] paired = [.. _trials.Where(t => t.Config == atOptimum).OrderBy(t => t.Trial)
            .Zip(_trials.Where(t => t.Config == atDaly).OrderBy(t => t.Trial), (m, g) => m.Waste - g.Waste)];
        double pairedMean = paired.Average();
        double pairedSd = paired.Length > 1 ? Math.Sqrt(paired.Sum(d => (d - pairedMean) * (d - pairedMean)) / (paired.Length - 1)) : double.NaN;
        s.AppendLine(string.Create(s_invariant,
            $"Paired by trial (same failures): multi-level at tau {atOptimum.Interval:0.###} s, K {atOptimum.GlobalEvery} minus global-only at {atDaly.Interval:0.###} s: " +
            $"{100 * pairedMean:+0.0;-0.0} points (sd {100 * pairedSd:F1} over {paired.Length} trials)"));
        s.AppendLine(string.Create(s_invariant,
            $"Noise: the standard error of a configuration's mean is about {100 * standardError:F1} points (median sd / sqrt({_settings.Trials}))"));
        double toMoody = Distance(bestMulti.Config.Interval, bestMulti.Config.GlobalEvery, tau, k);
        double toYoungDaly = Distance(bestMulti.Config.Interval, bestMulti.Config.GlobalEvery, ydTau, ydK);
        s.AppendLine(string.Create(s_invariant,
            $"The measured multi-level best is {(toMoody <= toYoungDaly ? "nearer the two-level model's optimum" : "nearer per-level Young/Daly")} " +
            $"(log distance in (tau, K): {toMoody:F2} to the two-level optimum, {toYoungDaly:F2} to per-level Young/Daly); " +
            $"{(Math.Abs(bestMulti.Mean - per.First(p => p.Config == atOptimum).Mean) < 2 * standardError ? "within the noise of the measured waste at the two-level optimum" : "more than two standard errors below the measured waste at the two-level optimum")}"));
        return s.ToString();
    }

    /// <summary>The runs' steps: "383" or "191-540".</summary>
    private string StepsText() => _trials.Min(t => t.Steps) == _trials.Max(t => t.Steps)
        ? _trials[0].Steps.ToString(s_invariant)
        : string.Create(s_invariant, $"{_trials.Min(t => t.Steps)}-{_trials.Max(t => t.Steps)}");

    /// <summary>sqrt(ln(tau/tau')^2 + ln(K/K')^2): how far apart two (tau, K) points are, as ratios.</summary>
    internal static double Distance(double tau, int k, double otherTau, int otherK) =>
        Math.Sqrt(Math.Pow(Math.Log(tau / otherTau), 2) + Math.Pow(Math.Log(k / (double)otherK), 2));

    /// <summary>The measured mean waste of the swept multi-level configuration nearest to (tau, K).</summary>
    private static string MeasuredAt(IEnumerable<(LevelConfig Config, double Mean, double Sd, double Failures, double Doubles, double Checkpoint, double Restart, double Rework)> per, double tau, int k)
    {
        var near = per.Where(p => p.Config.Multi).MinBy(p => Distance(p.Config.Interval, p.Config.GlobalEvery, tau, k));
        string at = Distance(near.Config.Interval, near.Config.GlobalEvery, tau, k) < 0.05 ? ""
            : string.Create(s_invariant, $" at the nearest swept point tau {near.Config.Interval:0.###} s, K {near.Config.GlobalEvery}");
        return string.Create(s_invariant, $"{100 * near.Mean:F1} %{at}");
    }

    private static string D(double x) => x.ToString("R", s_invariant);
}

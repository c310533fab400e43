using System.Diagnostics;
using System.Globalization;
using System.Text;
using Coordinated.Checkpointing;
using Parquet;
using Parquet.Serialization;

namespace Coordinated.Study;

/// <summary>What a study writes: a Parquet file, a plot and a summary.</summary>
internal interface IStudyReport
{
    void WriteParquet(string path);

    void Plot(string directory, string png);

    string Summary();
}

/// <summary>The study's outcome: study.parquet (one row per trial), study.png (gnuplot) and the summary.</summary>
internal sealed class Report : IStudyReport
{
    private static readonly CultureInfo s_invariant = CultureInfo.InvariantCulture;

    private readonly StudySettings _settings;
    private readonly Measurements _measured;
    private readonly IReadOnlyList<double> _intervals;
    private readonly IReadOnlyList<TrialResult> _trials;

    public Report(StudySettings settings, Measurements measured, IReadOnlyList<double> intervals, IReadOnlyList<TrialResult> trials)
    {
        _settings = settings;
        _measured = measured;
        _intervals = intervals;
        _trials = trials;
        CheckpointCosts = [.. measured.CheckpointCosts, .. trials.SelectMany(t => t.CheckpointCosts)];
        RestartTimes = [.. measured.RestartTimes, .. trials.SelectMany(t => t.RestartTimes)];
        Cost = CheckpointCosts.Average();
        Restart = RestartTimes.Average();
        Young = OptimalInterval.Young(Cost, settings.MtbfSeconds);
        Daly = OptimalInterval.Daly(Cost, settings.MtbfSeconds);
        double low = Math.Min(intervals.Min(), Math.Min(Young, Daly)) / 1.5, high = Math.Max(intervals.Max(), Math.Max(Young, Daly)) * 1.5;
        ModelGrid = WasteModel.LogGrid(low, high, 300);
        ModelOptimum = WasteModel.Optimum(Cost, Restart, settings.MtbfSeconds, low, high);
    }

    /// <summary>C: the mean cost of every periodic checkpoint of the study (calibration and trials).</summary>
    public double Cost { get; }

    /// <summary>R: the mean time from launch to first step of every restart of the study (calibration and trials).</summary>
    public double Restart { get; }

    private double[] CheckpointCosts { get; }

    private double[] RestartTimes { get; }

    public double Young { get; }

    public double Daly { get; }

    /// <summary>The interval with the least model waste.</summary>
    public double ModelOptimum { get; }

    private double[] ModelGrid { get; }

    public double ModelWaste(double interval) => WasteModel.Waste(interval, Cost, Restart, _settings.MtbfSeconds);

    /// <summary>Mean measured waste per swept interval.</summary>
    public IEnumerable<(double Interval, double Mean, double Sd, double Failures, double Checkpoints)> PerInterval() =>
        _intervals.Select(interval =>
        {
            var at = _trials.Where(t => t.Interval == interval).ToList();
            double[] wastes = [.. at.Select(t => t.Waste)];
            double mean = wastes.Average();
            double sd = wastes.Length > 1 ? Math.Sqrt(wastes.Sum(w => (w - mean) * (w - mean)) / (wastes.Length - 1)) : 0;
            return (interval, mean, sd, at.Average(t => t.Failures), at.Average(t => t.CheckpointCosts.Count));
        });

    /// <summary>
    /// Writes study.parquet (one <see cref="StudyRow"/> per trial, gzip, the model's figures as key/value metadata)
    /// through Parquet.Net: to <c>path.tmp</c>, flushed to disk, then renamed over <paramref name="path"/>, so that
    /// a crash never leaves a truncated file.
    /// </summary>
    public void WriteParquet(string path)
    {
        StudyRow[] rows = [.. _trials.Select(t => new StudyRow
        {
            IntervalSeconds = t.Interval,
            MtbfSeconds = _settings.MtbfSeconds,
            Trial = t.Trial + 1,
            CheckpointCostSeconds = Cost,
            RestartCostSeconds = Restart,
            WorkSeconds = t.WorkSeconds,
            ReferenceSeconds = t.ReferenceSeconds,
            MakespanSeconds = t.MakespanSeconds,
            Failures = t.Failures,
            Checkpoints = t.CheckpointCosts.Count,
            WasteFraction = t.Waste,
            ModelWasteFraction = ModelWaste(t.Interval),
            Ranks = _settings.Ranks,
            Particles = _settings.Particles,
            Steps = _measured.Steps,
            StepSeconds = _measured.StepSeconds,
            Seed = _settings.Seed,
            TrialCheckpointCostSeconds = t.CheckpointCosts.Count > 0 ? t.CheckpointCosts.Average() : null,
            TrialRestartCostSeconds = t.RestartTimes.Count > 0 ? t.RestartTimes.Average() : null,
            KillTimesSeconds = string.Join(",", t.KillTimes.Select(k => k.ToString("F3", s_invariant))),
        })];
        var metadata = new Dictionary<string, string>
        {
            ["model"] = "waste = 1 - tau/(tau+C) * (1 - (R + (tau+C)/2) / M)",
            ["young_s"] = Young.ToString("R", s_invariant),
            ["daly_s"] = Daly.ToString("R", s_invariant),
            ["model_optimum_s"] = ModelOptimum.ToString("R", s_invariant),
            ["startup_s"] = _measured.StartupSeconds.ToString("R", s_invariant),
            ["read_verify_s"] = _measured.ReadVerifySeconds.ToString("R", s_invariant),
            ["checkpoint_samples"] = CheckpointCosts.Length.ToString(s_invariant),
            ["restart_samples"] = RestartTimes.Length.ToString(s_invariant),
            ["calibration_checkpoint_cost_s"] = _measured.CheckpointSeconds.ToString("R", s_invariant),
            ["calibration_restart_cost_s"] = _measured.RestartSeconds.ToString("R", s_invariant),
            ["quick"] = _settings.Quick ? "true" : "false",
        };

        WriteParquetFile(rows, metadata, path);
    }

    /// <summary>Parquet.Net, gzip: to <c>path.tmp</c>, flushed to disk, then renamed over <paramref name="path"/>.</summary>
    internal static void WriteParquetFile<T>(IEnumerable<T> rows, Dictionary<string, string> metadata, string path)
    {
        string temporary = path + ".tmp";
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write))
        {
            ParquetSerializer.SerializeAsync(rows, file, new ParquetOptions { CompressionMethod = CompressionMethod.Gzip }, metadata)
                .GetAwaiter().GetResult();
            file.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Writes the data and a gnuplot script under <paramref name="directory"/>/plot and runs gnuplot to make <paramref name="png"/>.</summary>
    public void Plot(string directory, string png)
    {
        string plot = Path.Combine(directory, "plot");
        Directory.CreateDirectory(plot);
        File.WriteAllLines(Path.Combine(plot, "model.dat"),
            ["# interval_s model_waste_percent", .. ModelGrid.Select(tau => Line(tau, 100 * ModelWaste(tau)))]);
        File.WriteAllLines(Path.Combine(plot, "trials.dat"),
            ["# interval_s measured_waste_percent trial failures", .. _trials.Select(t => Line(t.Interval, 100 * t.Waste, t.Trial + 1, t.Failures))]);
        File.WriteAllLines(Path.Combine(plot, "means.dat"),
            ["# interval_s mean_measured_waste_percent sd_percent", .. PerInterval().Select(p => Line(p.Interval, 100 * p.Mean, 100 * p.Sd))]);

        // Young's and Daly's intervals are close when C << M: each label goes on the side away from the other.
        bool youngRight = Young >= Daly;
        string title = string.Create(s_invariant,
            $"NBody {_settings.Particles} particles on {_settings.Ranks} ranks: C = {Cost:F3} s, R = {Restart:F2} s, M = {_settings.MtbfSeconds:0.##} s, work = {_trials.Average(t => t.WorkSeconds):F1} s, {_settings.Trials} trials per interval");
        string script = Report.PlotPreamble(png, title) + string.Create(s_invariant, $$"""
            set arrow 1 from {{Young:R}}, graph 0 to {{Young:R}}, graph 1 nohead dashtype 2 linewidth 2 linecolor rgb '#1f77b4'
            set arrow 2 from {{Daly:R}}, graph 0 to {{Daly:R}}, graph 1 nohead dashtype 4 linewidth 2 linecolor rgb '#9467bd'
            set label 1 sprintf('Young %.2f s', {{Young:R}}) at {{Young:R}}, graph 0.06 {{(youngRight ? "left offset 0.5,0" : "right offset -0.5,0")}} textcolor rgb '#1f77b4'
            set label 2 sprintf('Daly %.2f s', {{Daly:R}}) at {{Daly:R}}, graph 0.06 {{(youngRight ? "right offset -0.5,0" : "left offset 0.5,0")}} textcolor rgb '#9467bd'
            plot 'model.dat' using 1:2 with lines linewidth 2 linecolor rgb '#444444' title 'model: 1 - τ/(τ+C) (1 - (R + (τ+C)/2)/M)', \
                 'means.dat' using 1:2 with linespoints dashtype 3 pointtype 7 pointsize 1.4 linecolor rgb '#2ca02c' title 'measured, mean per interval', \
                 'trials.dat' using 1:2 with points pointtype 6 pointsize 1.4 linewidth 1.5 linecolor rgb '#d62728' title 'measured, each trial (kill -9 at exponential times)'
            """);

        DrawPng(plot, "study.gp", script, png);
    }

    /// <summary>
    /// Writes <paramref name="script"/> (with TERMINAL for the terminal) to <paramref name="plot"/>/<paramref name="name"/>
    /// and runs gnuplot there to draw <paramref name="png"/>: pngcairo, else png.
    /// </summary>
    internal static void DrawPng(string plot, string name, string script, string png)
    {
        string scriptPath = Path.Combine(plot, name);
        string? error = null;
        foreach (string terminal in (string[])["pngcairo", "png"])
        {
            File.WriteAllText(scriptPath, script.Replace("TERMINAL", terminal, StringComparison.Ordinal) + "\n");
            File.Delete(png);
            error = RunGnuplot(plot, scriptPath);
            if (error is null && File.Exists(png))
            {
                return;
            }
        }

        throw new StudyException($"gnuplot could not draw {png}: {error}");
    }

    public string Summary()
    {
        var s = new StringBuilder();
        var m = _measured;
        string Pct(double x) => (100 * x).ToString("F1", s_invariant) + " %";
        s.AppendLine(string.Create(s_invariant,
            $"Checkpoint-interval study: NBody {_settings.Particles} particles on {_settings.Ranks} ranks, {m.Steps} steps, M = {_settings.MtbfSeconds:0.###} s, {_intervals.Count} intervals x {_settings.Trials} trials, seed {_settings.Seed}{(_settings.Quick ? " (--quick)" : "")}"));
        s.AppendLine(string.Create(s_invariant,
            $"Measured: step {1000 * m.StepSeconds:F2} ms; fresh start-up {m.StartupSeconds:F2} s; work {_trials.Average(t => t.WorkSeconds):F2} s (mean over the trials; failure-free reference runs {_trials.Average(t => t.ReferenceSeconds):F2} s)"));
        s.AppendLine(string.Create(s_invariant,
            $"          checkpoint C = {Cost:F3} s (mean of {CheckpointCosts.Length}; {m.CheckpointSeconds:F3} s before the sweep)"));
        s.AppendLine(string.Create(s_invariant,
            $"          restart R = {Restart:F2} s (launch to first step, mean of {RestartTimes.Length}; {m.RestartSeconds:F2} s before the sweep; read+verify {m.ReadVerifySeconds:F3} s of it)"));
        s.AppendLine();
        s.AppendLine("interval_s  failures  checkpoints  measured waste (mean ± sd)  model waste");
        var perInterval = PerInterval().ToList();
        foreach (var p in perInterval)
        {
            s.AppendLine(string.Create(s_invariant,
                $"{p.Interval,10:0.###}  {p.Failures,8:F1}  {p.Checkpoints,11:F1}  {100 * p.Mean,14:F1} % ± {100 * p.Sd,4:F1} %  {100 * ModelWaste(p.Interval),9:F1} %"));
        }

        var best = perInterval.MinBy(p => p.Mean);
        s.AppendLine();
        s.AppendLine(string.Create(s_invariant, $"Young  sqrt(2CM) = {Young:F2} s: model waste {Pct(ModelWaste(Young))}; measured {Nearest(perInterval, Young)}"));
        s.AppendLine(string.Create(s_invariant, $"Daly             = {Daly:F2} s: model waste {Pct(ModelWaste(Daly))}; measured {Nearest(perInterval, Daly)}"));
        s.AppendLine(string.Create(s_invariant, $"Model optimum    = {ModelOptimum:F2} s: model waste {Pct(ModelWaste(ModelOptimum))}"));
        s.AppendLine(string.Create(s_invariant, $"Measured best    = {best.Interval:0.###} s: measured waste {Pct(best.Mean)} (model {Pct(ModelWaste(best.Interval))})"));
        return s.ToString();
    }

    /// <summary>The measured mean waste at the swept interval nearest (on a log scale) to <paramref name="interval"/>.</summary>
    private static string Nearest(IEnumerable<(double Interval, double Mean, double Sd, double Failures, double Checkpoints)> perInterval, double interval)
    {
        var near = perInterval.MinBy(p => Math.Abs(Math.Log(p.Interval / interval)));
        string at = Math.Abs(Math.Log(near.Interval / interval)) < 0.01 ? "" : string.Create(s_invariant, $" at the nearest swept interval {near.Interval:0.###} s");
        return string.Create(s_invariant, $"{100 * near.Mean:F1} %{at}");
    }

    /// <summary>The gnuplot lines both study plots start with: terminal, output, title, the waste-vs-interval axes and key.</summary>
    internal static string PlotPreamble(string png, string title) => $$"""
        set terminal TERMINAL size 1100,700 font 'DejaVu Sans,11'
        set output '{{Path.GetFullPath(png).Replace("'", "''", StringComparison.Ordinal)}}'
        set title "{{title}}"
        set xlabel 'checkpoint interval τ (seconds of compute between checkpoints, log scale)'
        set ylabel 'waste = (makespan - work) / makespan  (%)'
        set logscale x
        set grid
        set key below center box

        """;

    internal static string Line(params double[] values) => string.Join(' ', values.Select(v => v.ToString("R", s_invariant)));

    private static string? RunGnuplot(string workingDirectory, string script)
    {
        var info = new ProcessStartInfo("gnuplot", [script])
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        using Process process = Process.Start(info) ?? throw new StudyException("gnuplot did not start");
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(1)))
        {
            process.Kill();
            return "gnuplot did not finish within a minute";
        }

        process.WaitForExit();
        return process.ExitCode == 0 ? null : $"exit {process.ExitCode}: {stderr.Result}";
    }
}

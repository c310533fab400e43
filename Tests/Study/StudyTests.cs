using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Coordinated.Checkpointing;
using Coordinated.Study;
using Coordinated.Tests.Infrastructure;

namespace Coordinated.Tests.Study;

/// <summary>
/// Runs the quick checkpoint-interval study once (real NBody runs under mpirun, real kill -9 at exponential times,
/// real restarts) and checks what it wrote: study.parquet through two independent readers, the PNG gnuplot drew,
/// and the summary.
/// </summary>
[Category("Study")]
[NonParallelizable] // minutes of oversubscribed ranks; timings must not compete with other tests
public sealed class QuickStudyTests
{
    private static readonly string[] s_required =
        ["interval_s", "mtbf_s", "trial", "checkpoint_cost_s", "restart_cost_s", "work_s", "makespan_s", "failures", "checkpoints", "waste_fraction", "model_waste_fraction"];

    private static readonly string[] s_int32 = ["trial", "failures", "checkpoints"];

    private TempDir _dir = null!;
    private int _exitCode;
    private TimeSpan _duration;
    private string _stdout = "", _stderr = "";
    private JsonElement _readers;

    [OneTimeSetUp]
    public void RunTheQuickStudy()
    {
        _dir = new TempDir();
        (_exitCode, _duration, _stdout, _stderr, _readers) = RunStudy(_dir["out/study.parquet"], "--quick", "--out", _dir["out"]);
    }

    /// <summary>
    /// Runs the study with <paramref name="args"/> (gnuplot, setsid and the readers required) and reads
    /// <paramref name="parquet"/> with both readers when it was written.
    /// </summary>
    internal static (int ExitCode, TimeSpan Duration, string Stdout, string Stderr, JsonElement Readers) RunStudy(string parquet, params string[] args)
    {
        Requires.Tool("gnuplot", "apt-get install gnuplot-nox");
        Requires.Tool("setsid", "apt-get install util-linux");
        NodeReaders.EnsureInstalled();
        var clock = Stopwatch.StartNew();
        using var job = Job.Start("dotnet", [Repo.StudyDll, .. args]);
        int exitCode = job.WaitForExit(TimeSpan.FromMinutes(8));
        TimeSpan duration = clock.Elapsed;
        TestContext.Progress.WriteLine($"study {string.Join(' ', args)}: exit {exitCode} after {duration.TotalSeconds:F0} s\n{job.Stdout}");
        JsonElement readers = File.Exists(parquet) ? NodeReaders.Read(parquet).GetProperty("readers") : default;
        return (exitCode, duration, job.Stdout, job.Stderr, readers);
    }

    [OneTimeTearDown]
    public void RemoveOutput() => _dir?.Dispose();

    [Test]
    public void Quick_study_exits_0_in_under_3_minutes()
    {
        Assert.That(_exitCode, Is.Zero, $"{_stdout}\n{_stderr}");
        Assert.That(_duration, Is.LessThan(TimeSpan.FromMinutes(3)), "--quick must finish in under 3 minutes on 2 cores");
    }

    [Test]
    public void No_rank_outlives_the_study()
    {
        // Every NBody process of the study had the output directory on its command line.
        var left = ProcessTable.Matching(command => command.Contains(_dir["out"], StringComparison.Ordinal));
        Assert.That(left, Is.Empty, "processes of the study still running after it exited");
    }

    [Test]
    public void Progress_names_every_run_and_the_kills()
    {
        Assert.That(_stderr, Does.Contain("run 6/6: interval"));
        Assert.That(_stderr, Does.Match(@"kill -9 at [\d.]+ s into launch 1; 1 failure\(s\) so far, elapsed [\d.]+ s; restarting"));
    }

    [Test]
    public void Both_independent_readers_see_the_required_columns_and_one_row_per_trial()
    {
        using (Assert.EnterMultipleScope())
        {
            foreach (string name in NodeReaders.Names)
            {
                JsonElement reader = Reader(name);
                var schema = reader.GetProperty("schema").EnumerateArray().ToDictionary(f => f.GetProperty("name").GetString()!, f => f.GetProperty("type").GetString());
                foreach (string column in s_required)
                {
                    bool isInt = s_int32.Contains(column);
                    string expected = name == "hyparquet" ? (isInt ? "INT32" : "DOUBLE") : (isInt ? "Int32" : "Float64");
                    Assert.That(schema.GetValueOrDefault(column), Is.EqualTo(expected), $"{name}: column {column}");
                }

                Assert.That(reader.GetProperty("rows").GetArrayLength(), Is.EqualTo(3 * 2), $"{name}: 3 intervals x 2 trials");
            }

            Assert.That(Reader("parquet-wasm").GetProperty("rows").GetRawText(), Is.EqualTo(Reader("hyparquet").GetProperty("rows").GetRawText()),
                "the two readers disagree on the values");
        }
    }

    [Test]
    public void Rows_are_sane_and_the_model_waste_is_the_formula()
    {
        var rows = Rows();
        Assert.That(rows.Select(r => r["interval_s"]).Distinct().Count(), Is.EqualTo(3));
        Assert.That(rows.GroupBy(r => r["interval_s"]).Select(g => g.Select(r => r["trial"]).Order()), Is.All.EqualTo(new double[] { 1, 2 }));
        Assert.That(rows.Sum(r => r["failures"]), Is.GreaterThan(0), "no failure was injected at all");
        using (Assert.EnterMultipleScope())
        {
            foreach (var r in rows)
            {
                string where = $"interval {r["interval_s"]} trial {r["trial"]}";
                double c = r["checkpoint_cost_s"], rc = r["restart_cost_s"], m = r["mtbf_s"], tau = r["interval_s"];
                Assert.That(m, Is.EqualTo(8), where);
                Assert.That(c, Is.GreaterThan(0).And.LessThan(5), $"{where}: C");
                Assert.That(rc, Is.GreaterThan(0).And.LessThan(30), $"{where}: R");
                Assert.That(r["work_s"], Is.GreaterThan(0), $"{where}: work");
                Assert.That(r["makespan_s"], Is.GreaterThan(0), $"{where}: makespan");
                Assert.That(r["failures"], Is.GreaterThanOrEqualTo(0), $"{where}: failures");
                Assert.That(r["checkpoints"], Is.GreaterThanOrEqualTo(0), $"{where}: checkpoints");
                Assert.That(r["waste_fraction"], Is.EqualTo((r["makespan_s"] - r["work_s"]) / r["makespan_s"]).Within(1e-12), $"{where}: waste definition");
                // work_s is the part of the trial's own wall time that advanced the result: never more than the makespan.
                Assert.That(r["makespan_s"], Is.GreaterThanOrEqualTo(r["work_s"]), $"{where}: makespan >= work");
                Assert.That(r["waste_fraction"], Is.GreaterThanOrEqualTo(0).And.LessThan(1), $"{where}: waste");
                Assert.That(r["reference_s"], Is.GreaterThan(0), $"{where}: failure-free reference");
                if (r["failures"] > 0)
                {
                    Assert.That(r["makespan_s"] - r["work_s"], Is.GreaterThan(0.1 * r["failures"]), $"{where}: a kill costs a restart");
                }

                // First-order model, worked out here: P = tau + C; waste = 1 - (tau/P)(1 - (R + P/2)/M).
                double period = tau + c;
                double expected = 1 - (tau / period * (1 - ((rc + (period / 2)) / m)));
                Assert.That(r["model_waste_fraction"], Is.EqualTo(expected).Within(1e-12), $"{where}: model waste");
            }
        }

        Assert.That(rows.Select(r => r["checkpoint_cost_s"]).Distinct().Count(), Is.EqualTo(1), "one C for the whole study");
        Assert.That(rows.Select(r => r["restart_cost_s"]).Distinct().Count(), Is.EqualTo(1), "one R for the whole study");
    }

    [Test]
    public void Png_is_a_real_image_of_the_plot_size()
    {
        AssertPlot(_dir["out/study.png"]);
        Assert.That(File.ReadAllText(_dir["out/plot/study.gp"]), Does.Contain("Young").And.Contain("Daly"));
    }

    [Test]
    public void Summary_names_Young_Daly_and_the_measured_best()
    {
        var rows = Rows();
        double c = rows[0]["checkpoint_cost_s"], m = rows[0]["mtbf_s"];
        string young = Math.Sqrt(2 * c * m).ToString("F2", CultureInfo.InvariantCulture);
        Assert.That(_stdout, Does.Contain($"Young  sqrt(2CM) = {young} s: model waste"));
        Assert.That(_stdout, Does.Contain($"Daly             = {OptimalInterval.Daly(c, m).ToString("F2", CultureInfo.InvariantCulture)} s: model waste"));
        Assert.That(_stdout, Does.Match(@"Measured best    = [\d.]+ s: measured waste -?[\d.]+ %"));
        Assert.That(File.ReadAllText(_dir["out/summary.txt"]), Is.EqualTo(_stdout));
    }

    /// <summary>A PNG gnuplot drew: the signature, 1100 x 700 pixels in its IHDR, more than 10 kB (points, curves, labels).</summary>
    internal static void AssertPlot(string path)
    {
        byte[] png = File.ReadAllBytes(path);
        Assert.That(png.AsSpan(0, 8).ToArray(), Is.EqualTo(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }), "PNG signature");
        Assert.That(png.Length, Is.GreaterThan(10_000), "a plot with points, a curve and labels");
        int width = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), height = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20));
        Assert.That((width, height), Is.EqualTo((1100, 700)), "IHDR size");
    }

    private JsonElement Reader(string name)
    {
        Assert.That(_exitCode, Is.Zero, "the quick study failed; see its output");
        JsonElement reader = _readers.GetProperty(name);
        Assert.That(reader.TryGetProperty("error", out JsonElement error), Is.False, $"{name}: {error}");
        return reader;
    }

    /// <summary>The rows as hyparquet read them, numeric columns only, by name.</summary>
    private List<Dictionary<string, double>> Rows()
    {
        JsonElement reader = Reader("hyparquet");
        string[] names = [.. reader.GetProperty("schema").EnumerateArray().Select(f => f.GetProperty("name").GetString()!)];
        return [.. reader.GetProperty("rows").EnumerateArray().Select(row =>
            names.Select((n, i) => (n, v: row[i]))
                .Where(p => p.v.ValueKind == JsonValueKind.Number || (p.v.ValueKind == JsonValueKind.String && long.TryParse(p.v.GetString(), CultureInfo.InvariantCulture, out _)))
                .ToDictionary(p => p.n, p => p.v.ValueKind == JsonValueKind.Number ? p.v.GetDouble() : long.Parse(p.v.GetString()!, CultureInfo.InvariantCulture)))];
    }
}

/// <summary>The study's arithmetic and its command line, without running NBody.</summary>
[Category("Study")]
public sealed class StudyUnitTests
{
    [Test]
    public void Young_and_Daly_match_hand_computed_values()
    {
        // C = 0.5 s, M = 100 s: Young = sqrt(100) = 10; C/2M = 1/400, sqrt = 1/20:
        // Daly = 10 (1 + 1/60 + 1/3600) - 0.5 = 9.5 + 1/6 + 1/360 = 9.669444...
        Assert.That(OptimalInterval.Young(0.5, 100), Is.EqualTo(10).Within(1e-12));
        Assert.That(OptimalInterval.Daly(0.5, 100), Is.EqualTo(9.5 + (1.0 / 6) + (1.0 / 360)).Within(1e-12));
        Assert.That(OptimalInterval.Daly(30, 10), Is.EqualTo(10), "C >= 2M: Daly's interval is M");
    }

    [Test]
    public void Waste_model_matches_hand_computed_values()
    {
        // tau 9, C 1 -> P 10; (R + P/2)/M = (2 + 5)/50 = 0.14; waste = 1 - 0.9 * 0.86 = 0.226.
        Assert.That(WasteModel.Waste(9, 1, 2, 50), Is.EqualTo(0.226).Within(1e-12));
        Assert.That(WasteModel.Waste(100, 1, 2, 50), Is.EqualTo(1), "R + P/2 beyond M: never finishes");
        double optimum = WasteModel.Optimum(1, 2, 50, 1, 40);
        Assert.That(WasteModel.Waste(optimum, 1, 2, 50), Is.LessThanOrEqualTo(WasteModel.Waste(OptimalInterval.Young(1, 50), 1, 2, 50)));
    }

    [Test]
    public void Failure_times_are_reproducible_for_a_seed_and_differ_between_trials()
    {
        double[] Draw(long seed, int trial)
        {
            var schedule = new FailureSchedule(10, seed, trial);
            return [.. Enumerable.Range(0, 50).Select(_ => schedule.Next())];
        }

        double[] first = Draw(7, 0), again = Draw(7, 0);
        Assert.That(again, Is.EqualTo(first));
        Assert.That(Draw(7, 1), Is.Not.EqualTo(first));
        Assert.That(Draw(8, 0), Is.Not.EqualTo(first));
        Assert.That(first, Is.All.GreaterThanOrEqualTo(0));
    }

    [Test]
    public void Failure_times_are_exponential_with_mean_M()
    {
        var schedule = new FailureSchedule(8, seed: 1, trial: 0);
        double[] draws = [.. Enumerable.Range(0, 200_000).Select(_ => schedule.Next())];
        Assert.That(draws.Average(), Is.EqualTo(8).Within(0.08), "mean M");
        // P(T < M) = 1 - 1/e and P(T < 3M) = 1 - e^-3 for an exponential.
        Assert.That(draws.Count(t => t < 8) / (double)draws.Length, Is.EqualTo(1 - Math.Exp(-1)).Within(0.005));
        Assert.That(draws.Count(t => t < 24) / (double)draws.Length, Is.EqualTo(1 - Math.Exp(-3)).Within(0.003));
    }

    [TestCase(0.1372, 0.14)]
    [TestCase(13.72, 14)]
    [TestCase(1, 1)]
    [TestCase(0.0251, 0.025)]
    public void Swept_intervals_are_rounded_to_two_significant_digits(double x, double rounded) =>
        Assert.That(StudyMain.TwoSignificantDigits(x), Is.EqualTo(rounded));

    [Test]
    public void Mpi_run_sh_runs_the_study_and_passes_its_exit_code()
    {
        using var job = Job.Start(Path.Combine(Repo.Root, "mpi-run.sh"), ["study", "--out", "/nonexistent-never-created", "--trials", "0"]);
        job.ExpectExit(64, TimeSpan.FromMinutes(3));
        Assert.That(job.Stderr, Does.Contain("--trials: 0 is not allowed"));

        using var help = Job.Start(Path.Combine(Repo.Root, "mpi-run.sh"), ["study", "--help"]);
        help.ExpectExit(0, TimeSpan.FromMinutes(3));
        Assert.That(help.Stdout, Does.Contain("--intervals").And.Contain("--mtbf").And.Contain("--quick").And.Contain("--compare-levels").And.Contain("--double-fraction"));
    }
}

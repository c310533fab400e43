using System.Globalization;
using System.Text.Json;
using Coordinated.Checkpointing;
using Coordinated.Study;
using Coordinated.Tests.Infrastructure;

namespace Coordinated.Tests.Study;

/// <summary>
/// Runs the quick level comparison once (<c>--compare-levels --quick</c>: real NBody runs on two pseudo-nodes under
/// mpirun MPMD, real kill -9 node failures that delete the node's local directory, real restarts from the partner copy
/// or the global snapshot) and checks what it wrote: levels.parquet through the two independent readers, every row's
/// waste against the runtime's own metrics.jsonl of that trial, the plot and the summary.
/// </summary>
[Category("Study")]
[NonParallelizable] // a minute or two of oversubscribed ranks; timings must not compete with other tests
public sealed class QuickLevelStudyTests
{
    /// <summary>levels.parquet's columns: name and physical type, all REQUIRED (docs/STUDY.md).</summary>
    private static readonly (string Name, string Type)[] s_schema =
    [
        ("levels", "BYTE_ARRAY"), ("interval_s", "DOUBLE"), ("global_every", "INT32"), ("trial", "INT32"), ("mtbf_s", "DOUBLE"),
        ("double_fraction", "DOUBLE"), ("work_s", "DOUBLE"), ("makespan_s", "DOUBLE"), ("waste_fraction", "DOUBLE"),
        ("checkpoint_s", "DOUBLE"), ("restart_s", "DOUBLE"), ("rework_s", "DOUBLE"), ("model_waste_fraction", "DOUBLE"),
        ("failures", "INT32"), ("double_failures", "INT32"), ("checkpoints_local", "INT32"), ("checkpoints_global", "INT32"),
        ("restarts_local", "INT32"), ("restarts_partner", "INT32"), ("restarts_global", "INT32"), ("nodes", "INT32"),
        ("ranks", "INT32"), ("particles", "INT32"), ("steps", "INT64"), ("step_s", "DOUBLE"), ("seed", "INT64"),
        ("kill_times_s", "BYTE_ARRAY"), ("failed_nodes", "BYTE_ARRAY"), ("run_dir", "BYTE_ARRAY"),
    ];

    private TempDir _dir = null!;
    private int _exitCode;
    private TimeSpan _duration;
    private string _stdout = "", _stderr = "";
    private JsonElement _readers;

    [OneTimeSetUp]
    public void RunTheQuickComparison()
    {
        _dir = new TempDir();
        (_exitCode, _duration, _stdout, _stderr, _readers) = QuickStudyTests.RunStudy(
            _dir["out/levels.parquet"], "--compare-levels", "--quick", "--out", _dir["out"], "--local-dir", _dir["node-local"]);
    }

    [OneTimeTearDown]
    public void RemoveOutput() => _dir?.Dispose();

    [Test]
    public void Exits_0_in_under_3_minutes_and_leaves_no_rank_or_node_local_directory()
    {
        Assert.That(_exitCode, Is.Zero, $"{_stdout}\n{_stderr}");
        Assert.That(_duration, Is.LessThan(TimeSpan.FromMinutes(3)), "--compare-levels --quick must finish in under 3 minutes on 2 cores");
        Assert.That(ProcessTable.Matching(command => command.Contains(_dir["out"], StringComparison.Ordinal)), Is.Empty, "processes of the study still running");
        Assert.That(Directory.Exists(_dir["node-local"]), Is.False, "the pseudo-nodes' local directories are removed at the end");
    }

    [Test]
    public void Both_independent_readers_see_the_columns_and_agree_on_every_value()
    {
        JsonElement hyparquet = Reader("hyparquet"), wasm = Reader("parquet-wasm");
        var physical = hyparquet.GetProperty("schema").EnumerateArray().Select(f => (f.GetProperty("name").GetString()!, f.GetProperty("type").GetString()!));
        Assert.That(physical, Is.EqualTo(s_schema));
        Assert.That(hyparquet.GetProperty("schema").EnumerateArray().Select(f => f.GetProperty("repetition").GetString()), Is.All.EqualTo("REQUIRED"));
        Assert.That(wasm.GetProperty("schema").EnumerateArray().Select(f => f.GetProperty("name").GetString()), Is.EqualTo(s_schema.Select(c => c.Name)));
        Assert.That(hyparquet.GetProperty("rows").GetArrayLength(), Is.EqualTo(2 * 2), "2 configurations (global-only, multi-level) x 2 trials");
        Assert.That(wasm.GetProperty("rows").GetRawText(), Is.EqualTo(hyparquet.GetProperty("rows").GetRawText()), "the two readers disagree");
    }

    [Test]
    public void Every_rows_waste_comes_from_the_trials_own_metrics()
    {
        var rows = Rows();
        Assert.That(rows.Select(r => (string)r["levels"]).Order(), Is.EqualTo(new[] { "global", "global", "multi", "multi" }));
        Assert.That(rows.Sum(r => (double)r["failures"]), Is.GreaterThan(0), "no failure was injected at all");
        Assert.That(rows.Where(r => (string)r["levels"] == "multi").Sum(r => (double)r["restarts_partner"]), Is.GreaterThan(0),
            "no multi-level trial restarted from a partner copy");
        using (Assert.EnterMultipleScope())
        {
            foreach (var r in rows)
            {
                string where = $"{r["levels"]} tau {r["interval_s"]} trial {r["trial"]}";
                double makespan = (double)r["makespan_s"], work = (double)r["work_s"];
                Assert.That(work, Is.GreaterThan(0).And.LessThanOrEqualTo(makespan), $"{where}: work");
                Assert.That((double)r["waste_fraction"], Is.EqualTo((makespan - work) / makespan).Within(1e-12), $"{where}: waste definition");
                Assert.That((double)r["checkpoint_s"] + (double)r["restart_s"] + (double)r["rework_s"], Is.EqualTo(makespan - work).Within(1e-9), $"{where}: the parts add up");
                Assert.That(((string)r["kill_times_s"]).Split(',', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo((int)(double)r["failures"]), $"{where}: one kill time per failure");
                Assert.That((double)r["global_every"], Is.GreaterThanOrEqualTo(1), $"{where}: K");
                if ((string)r["levels"] == "global")
                {
                    Assert.That((double)r["global_every"], Is.EqualTo(1), $"{where}: global-only has K = 1");
                }


                // The runtime's own record of the trial, read here with System.Text.Json.
                var events = File.ReadLines(Path.Combine(_dir["out/runs"], (string)r["run_dir"], "metrics.jsonl"))
                    .Select(line => JsonDocument.Parse(line).RootElement).ToList();
                var periodic = events.Where(e => e.GetProperty("event").GetString() == "checkpoint" && e.GetProperty("trigger").GetString() == "every-seconds").ToList();
                Assert.That((double)r["checkpoint_s"], Is.EqualTo(periodic.Sum(e => e.GetProperty("total_s").GetDouble())).Within(1e-9), $"{where}: checkpoint_s is the periodic total_s of metrics.jsonl");
                int global = periodic.Count(e => e.GetProperty("level").GetString() == "global");
                Assert.That(((double)r["checkpoints_local"], (double)r["checkpoints_global"]), Is.EqualTo(((double)(periodic.Count - global), (double)global)), $"{where}: checkpoints by level");
                if ((string)r["levels"] == "global")
                {
                    Assert.That(periodic.Count - global, Is.Zero, $"{where}: global-only wrote a local checkpoint");
                }

                foreach (string level in (string[])["partner", "global"])
                {
                    int logged = events.Count(e => e.GetProperty("event").GetString() == "restart" && e.GetProperty("level").GetString() == level);
                    double counted = (double)r[$"restarts_{level}"];
                    Assert.That(counted, Is.LessThanOrEqualTo(logged).And.GreaterThanOrEqualTo(logged - (double)r["failures"]), $"{where}: restarts from {level} (a kill may land after the restore, before the first step)");
                }
            }
        }
    }

    [Test]
    public void Model_waste_is_the_two_level_model_for_the_measured_costs()
    {
        var metadata = Metadata();
        double M(string key) => double.Parse(metadata[key], CultureInfo.InvariantCulture);
        var global = new LevelCost(M("global_checkpoint_cost_s"), M("global_restart_cost_s"));
        var local = new LevelCost(M("local_checkpoint_cost_s"), M("local_restart_cost_s"));
        var multiGlobal = new LevelCost(M("multi_global_checkpoint_cost_s"), M("multi_global_restart_cost_s"));
        Assert.That(local.Checkpoint, Is.GreaterThan(0).And.LessThan(global.Checkpoint * 5), "a local + partner checkpoint was measured");
        foreach (var r in Rows())
        {
            double tau = (double)r["interval_s"], m = (double)r["mtbf_s"];
            double expected = (string)r["levels"] == "global"
                ? TwoLevelModel.SingleLevelWaste(tau, global, m)
                : TwoLevelModel.Waste(tau, (int)(double)r["global_every"], local, multiGlobal, m, (double)r["double_fraction"]);
            Assert.That((double)r["model_waste_fraction"], Is.EqualTo(expected).Within(1e-12), $"{r["levels"]} tau {tau}");
        }

        Assert.That(_stdout, Does.Contain($"Daly = {OptimalInterval.Daly(global.Checkpoint, 8).ToString("F2", CultureInfo.InvariantCulture)} s"));
        Assert.That(_stdout, Does.Contain($"two-level model (Moody et al.) optimum tau = {M("two_level_optimum_s").ToString("F2", CultureInfo.InvariantCulture)} s, K = {metadata["two_level_optimum_k"]}"));
        Assert.That(_stdout, Does.Match(@"Less waste: (multi-level|global-only), [\d.]+ % against [\d.]+ %"));
        Assert.That(File.ReadAllText(_dir["out/summary.txt"]), Is.EqualTo(_stdout));
    }

    [Test]
    public void Png_is_a_real_image_of_the_comparison()
    {
        QuickStudyTests.AssertPlot(_dir["out/levels.png"]);
        Assert.That(File.ReadAllText(_dir["out/plot/levels.gp"]), Does.Contain("two-level model").And.Contain("global-only"));
    }

    [Test]
    public void Progress_names_the_node_failures()
    {
        Assert.That(_stderr, Does.Contain("run 4/4: "));
        Assert.That(_stderr, Does.Match(@"kill -9 at [\d.]+ s into launch 1, node\(s\) n\d(\+n\d)? lost"));
    }

    private JsonElement Reader(string name)
    {
        Assert.That(_exitCode, Is.Zero, "the quick level comparison failed; see its output");
        JsonElement reader = _readers.GetProperty(name);
        Assert.That(reader.TryGetProperty("error", out JsonElement error), Is.False, $"{name}: {error}");
        return reader;
    }

    private Dictionary<string, string> Metadata() =>
        Reader("hyparquet").GetProperty("metadata").GetProperty("keyValueMetadata").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);

    /// <summary>The rows as hyparquet read them, by column name: strings as strings, numbers (INT64 too) as doubles.</summary>
    private List<Dictionary<string, object>> Rows()
    {
        JsonElement reader = Reader("hyparquet");
        var columns = reader.GetProperty("schema").EnumerateArray().Select(f => (Name: f.GetProperty("name").GetString()!, Type: f.GetProperty("type").GetString()!)).ToArray();
        return [.. reader.GetProperty("rows").EnumerateArray().Select(row => columns.Select((c, i) => (c, v: row[i])).ToDictionary(
            p => p.c.Name,
            p => p.c.Type switch
            {
                "BYTE_ARRAY" => (object)p.v.GetString()!,
                "INT64" => (object)(double)long.Parse(p.v.GetString()!, CultureInfo.InvariantCulture),
                _ => p.v.GetDouble(),
            }))];
    }
}

using System.Globalization;
using System.Text.Json;
using Coordinated.Study;
using Coordinated.Tests.Infrastructure;

namespace Coordinated.Tests.Study;

/// <summary>
/// study.parquet as Parquet.Net writes it, from a report of made-up trials (no NBody runs), read back by the two
/// independent readers: the columns, physical types and repetitions, the key/value metadata and every value.
/// </summary>
[Category("Study")]
public sealed class StudyParquetTests
{
    /// <summary>The schema study.parquet had when our own writer made it (docs/study.parquet): name, physical type, repetition.</summary>
    private static readonly (string Name, string Type, string Repetition)[] s_schema =
    [
        ("interval_s", "DOUBLE", "REQUIRED"), ("mtbf_s", "DOUBLE", "REQUIRED"), ("trial", "INT32", "REQUIRED"),
        ("checkpoint_cost_s", "DOUBLE", "REQUIRED"), ("restart_cost_s", "DOUBLE", "REQUIRED"), ("work_s", "DOUBLE", "REQUIRED"),
        ("reference_s", "DOUBLE", "REQUIRED"), ("makespan_s", "DOUBLE", "REQUIRED"), ("failures", "INT32", "REQUIRED"),
        ("checkpoints", "INT32", "REQUIRED"), ("waste_fraction", "DOUBLE", "REQUIRED"), ("model_waste_fraction", "DOUBLE", "REQUIRED"),
        ("ranks", "INT32", "REQUIRED"), ("particles", "INT32", "REQUIRED"), ("steps", "INT64", "REQUIRED"), ("step_s", "DOUBLE", "REQUIRED"),
        ("seed", "INT64", "REQUIRED"), ("trial_checkpoint_cost_s", "DOUBLE", "OPTIONAL"), ("trial_restart_cost_s", "DOUBLE", "OPTIONAL"),
        ("kill_times_s", "BYTE_ARRAY", "REQUIRED"),
    ];

    private static readonly string[] s_metadataKeys =
    [
        "model", "young_s", "daly_s", "model_optimum_s", "startup_s", "read_verify_s", "checkpoint_samples", "restart_samples",
        "calibration_checkpoint_cost_s", "calibration_restart_cost_s", "quick",
    ];

    private TempDir _dir = null!;
    private Report _report = null!;
    private JsonElement _readers;

    [OneTimeSetUp]
    public void WriteAReport()
    {
        NodeReaders.EnsureInstalled();
        _dir = new TempDir();
        var settings = StudySettings.QuickDefaults(_dir["out"], "NBody.dll") with { Seed = long.MaxValue - 1, Particles = 4096 };
        var measured = new Measurements(0.0125, 1.5, [0.25, 0.35], [2.0, 2.5], 0.375, 5_000_000_000);
        TrialResult[] trials =
        [
            new(0.5, 0, 7.25, 7.0, 9.5, [1.234, 5.0], [0.2, 0.3], [2.25]),
            new(0.5, 1, 7.0, 7.0, 7.5, [], [0.1], []),
            new(2, 0, 7.125, 7.0, 11.0, [0.001], [], [3.0]),
        ];
        _report = new Report(settings, measured, [0.5, 2], trials);
        _report.WriteParquet(_dir["study.parquet"]);
        _readers = NodeReaders.Read(_dir["study.parquet"]).GetProperty("readers");
    }

    [OneTimeTearDown]
    public void RemoveFiles() => _dir?.Dispose();

    [Test]
    public void Both_readers_see_the_columns_and_types_study_parquet_always_had()
    {
        JsonElement hyparquet = Reader("hyparquet"), wasm = Reader("parquet-wasm");
        var physical = hyparquet.GetProperty("schema").EnumerateArray()
            .Select(f => (f.GetProperty("name").GetString()!, f.GetProperty("type").GetString()!, f.GetProperty("repetition").GetString()!));
        Assert.That(physical, Is.EqualTo(s_schema));
        JsonElement kill = hyparquet.GetProperty("schema").EnumerateArray().Last();
        Assert.That(kill.GetProperty("logicalType").GetString(), Is.EqualTo("STRING"), "kill_times_s is UTF-8 text");

        string Arrow(string type) => type switch { "DOUBLE" => "Float64", "INT32" => "Int32", "INT64" => "Int64", _ => "Utf8" };
        var arrow = wasm.GetProperty("schema").EnumerateArray()
            .Select(f => (f.GetProperty("name").GetString()!, f.GetProperty("type").GetString()!, f.GetProperty("nullable").GetBoolean()));
        Assert.That(arrow, Is.EqualTo(s_schema.Select(c => (c.Name, Arrow(c.Type), c.Repetition == "OPTIONAL"))));
    }

    [Test]
    public void Both_readers_see_the_same_key_value_metadata()
    {
        foreach (string name in NodeReaders.Names)
        {
            var metadata = Reader(name).GetProperty("metadata").GetProperty("keyValueMetadata").EnumerateObject()
                .ToDictionary(p => p.Name, p => p.Value.GetString());
            Assert.That(metadata.Keys, Is.EquivalentTo(s_metadataKeys), name);
            Assert.That(metadata["model"], Is.EqualTo("waste = 1 - tau/(tau+C) * (1 - (R + (tau+C)/2) / M)"), name);
            Assert.That(double.Parse(metadata["young_s"]!, CultureInfo.InvariantCulture), Is.EqualTo(_report.Young), name);
            Assert.That(double.Parse(metadata["daly_s"]!, CultureInfo.InvariantCulture), Is.EqualTo(_report.Daly), name);
            Assert.That(double.Parse(metadata["model_optimum_s"]!, CultureInfo.InvariantCulture), Is.EqualTo(_report.ModelOptimum), name);
            Assert.That(metadata["startup_s"], Is.EqualTo("1.5"), name);
            Assert.That(metadata["read_verify_s"], Is.EqualTo("0.375"), name);
            Assert.That(metadata["checkpoint_samples"], Is.EqualTo("5"), $"{name}: 2 calibration + 3 trial checkpoints");
            Assert.That(metadata["restart_samples"], Is.EqualTo("4"), $"{name}: 2 calibration + 2 trial restarts");
            Assert.That(metadata["calibration_checkpoint_cost_s"], Is.EqualTo("0.3"), name);
            Assert.That(metadata["calibration_restart_cost_s"], Is.EqualTo("2.25"), name);
            Assert.That(metadata["quick"], Is.EqualTo("true"), name);
        }
    }

    [Test]
    public void Both_readers_read_every_value_exactly()
    {
        // C = mean(0.25, 0.35, 0.2, 0.3, 0.1) and R = mean(2, 2.5, 2.25, 3), as the report computes them.
        double c = new[] { 0.25, 0.35, 0.2, 0.3, 0.1 }.Average(), r = new[] { 2.0, 2.5, 2.25, 3.0 }.Average();
        string D(double x) => x.ToString("R", CultureInfo.InvariantCulture);
        string[] Row(double interval, int trial, double work, double makespan, int failures, int checkpoints, string trialC, string trialR, string kills) =>
        [
            D(interval), "8", trial.ToString(CultureInfo.InvariantCulture), D(c), D(r), D(work), "7", D(makespan),
            failures.ToString(CultureInfo.InvariantCulture), checkpoints.ToString(CultureInfo.InvariantCulture),
            D((makespan - work) / makespan), D(_report.ModelWaste(interval)), "2", "4096", "5000000000", "0.0125",
            (long.MaxValue - 1).ToString(CultureInfo.InvariantCulture), trialC, trialR, kills,
        ];
        string[][] expected =
        [
            Row(0.5, 1, 7.25, 9.5, 2, 2, D(new[] { 0.2, 0.3 }.Average()), "2.25", "1.234,5.000"),
            Row(0.5, 2, 7.0, 7.5, 0, 1, "0.1", "null", ""),
            Row(2, 1, 7.125, 11.0, 1, 0, "null", "3", "0.001"),
        ];
        foreach (string name in NodeReaders.Names)
        {
            // Numbers as JavaScript printed them (shortest round-trip form), INT64 as strings, null as null.
            var rows = Reader(name).GetProperty("rows").EnumerateArray()
                .Select(row => row.EnumerateArray().Select(v => v.ValueKind switch
                {
                    JsonValueKind.Null => "null",
                    JsonValueKind.String => v.GetString()!,
                    _ => D(v.GetDouble()),
                }).ToArray()).ToArray();
            Assert.That(rows, Is.EqualTo(expected), name);
        }
    }

    [Test]
    public void The_file_replaces_an_old_one_and_leaves_no_temporary_behind()
    {
        Assert.That(File.Exists(_dir["study.parquet.tmp"]), Is.False);
        File.WriteAllText(_dir["again.parquet"], "an old, shorter file");
        _report.WriteParquet(_dir["again.parquet"]);
        Assert.That(File.ReadAllBytes(_dir["again.parquet"]), Is.EqualTo(File.ReadAllBytes(_dir["study.parquet"])), "same report, same bytes");
        Assert.That(File.Exists(_dir["again.parquet.tmp"]), Is.False);
    }

    private JsonElement Reader(string name)
    {
        JsonElement reader = _readers.GetProperty(name);
        Assert.That(reader.TryGetProperty("error", out JsonElement error), Is.False, $"{name}: {error}");
        return reader;
    }
}

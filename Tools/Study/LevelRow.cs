using System.Text.Json.Serialization;
using Parquet.Serialization.Attributes;

namespace Coordinated.Study;

/// <summary>
/// One row of levels.parquet (the level comparison, <c>--compare-levels</c>): one trial of one configuration. The
/// property order is the column order and the <see cref="JsonPropertyNameAttribute"/> names are the column names
/// (docs/STUDY.md lists them); types map as in <see cref="StudyRow"/>.
/// </summary>
internal sealed class LevelRow
{
    [JsonPropertyName("levels")][ParquetRequired] public string Levels { get; init; } = "";

    [JsonPropertyName("interval_s")] public double IntervalSeconds { get; init; }

    [JsonPropertyName("global_every")] public int GlobalEvery { get; init; }

    [JsonPropertyName("trial")] public int Trial { get; init; }

    [JsonPropertyName("mtbf_s")] public double MtbfSeconds { get; init; }

    [JsonPropertyName("double_fraction")] public double DoubleFraction { get; init; }

    [JsonPropertyName("work_s")] public double WorkSeconds { get; init; }

    [JsonPropertyName("makespan_s")] public double MakespanSeconds { get; init; }

    [JsonPropertyName("waste_fraction")] public double WasteFraction { get; init; }

    [JsonPropertyName("checkpoint_s")] public double CheckpointSeconds { get; init; }

    [JsonPropertyName("restart_s")] public double RestartSeconds { get; init; }

    [JsonPropertyName("rework_s")] public double ReworkSeconds { get; init; }

    [JsonPropertyName("model_waste_fraction")] public double ModelWasteFraction { get; init; }

    [JsonPropertyName("failures")] public int Failures { get; init; }

    [JsonPropertyName("double_failures")] public int DoubleFailures { get; init; }

    [JsonPropertyName("checkpoints_local")] public int CheckpointsLocal { get; init; }

    [JsonPropertyName("checkpoints_global")] public int CheckpointsGlobal { get; init; }

    [JsonPropertyName("restarts_local")] public int RestartsLocal { get; init; }

    [JsonPropertyName("restarts_partner")] public int RestartsPartner { get; init; }

    [JsonPropertyName("restarts_global")] public int RestartsGlobal { get; init; }

    [JsonPropertyName("nodes")] public int Nodes { get; init; }

    [JsonPropertyName("ranks")] public int Ranks { get; init; }

    [JsonPropertyName("particles")] public int Particles { get; init; }

    [JsonPropertyName("steps")] public long Steps { get; init; }

    [JsonPropertyName("step_s")] public double StepSeconds { get; init; }

    [JsonPropertyName("seed")] public long Seed { get; init; }

    [JsonPropertyName("kill_times_s")][ParquetRequired] public string KillTimesSeconds { get; init; } = "";

    [JsonPropertyName("failed_nodes")][ParquetRequired] public string FailedNodes { get; init; } = "";

    [JsonPropertyName("run_dir")][ParquetRequired] public string RunDirectory { get; init; } = "";
}

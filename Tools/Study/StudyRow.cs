using System.Text.Json.Serialization;
using Parquet.Serialization.Attributes;

namespace Coordinated.Study;

/// <summary>
/// One row of study.parquet: one trial at one interval. The property order is the column order; the
/// <see cref="JsonPropertyNameAttribute"/> names are the column names (docs/STUDY.md lists them). Parquet.Net maps
/// <c>double</c> to DOUBLE, <c>int</c> to INT32, <c>long</c> to INT64 and <c>string</c> to a UTF-8 BYTE_ARRAY;
/// nullable types are OPTIONAL columns, the rest (strings with <see cref="ParquetRequiredAttribute"/>) REQUIRED.
/// </summary>
internal sealed class StudyRow
{
    [JsonPropertyName("interval_s")] public double IntervalSeconds { get; init; }

    [JsonPropertyName("mtbf_s")] public double MtbfSeconds { get; init; }

    [JsonPropertyName("trial")] public int Trial { get; init; }

    [JsonPropertyName("checkpoint_cost_s")] public double CheckpointCostSeconds { get; init; }

    [JsonPropertyName("restart_cost_s")] public double RestartCostSeconds { get; init; }

    [JsonPropertyName("work_s")] public double WorkSeconds { get; init; }

    [JsonPropertyName("reference_s")] public double ReferenceSeconds { get; init; }

    [JsonPropertyName("makespan_s")] public double MakespanSeconds { get; init; }

    [JsonPropertyName("failures")] public int Failures { get; init; }

    [JsonPropertyName("checkpoints")] public int Checkpoints { get; init; }

    [JsonPropertyName("waste_fraction")] public double WasteFraction { get; init; }

    [JsonPropertyName("model_waste_fraction")] public double ModelWasteFraction { get; init; }

    [JsonPropertyName("ranks")] public int Ranks { get; init; }

    [JsonPropertyName("particles")] public int Particles { get; init; }

    [JsonPropertyName("steps")] public long Steps { get; init; }

    [JsonPropertyName("step_s")] public double StepSeconds { get; init; }

    [JsonPropertyName("seed")] public long Seed { get; init; }

    [JsonPropertyName("trial_checkpoint_cost_s")] public double? TrialCheckpointCostSeconds { get; init; }

    [JsonPropertyName("trial_restart_cost_s")] public double? TrialRestartCostSeconds { get; init; }

    [JsonPropertyName("kill_times_s")][ParquetRequired] public string KillTimesSeconds { get; init; } = "";
}

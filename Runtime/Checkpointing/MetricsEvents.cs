using System.Text.Json.Serialization;

namespace Coordinated.Checkpointing;

/// <summary>
/// One line of <c>metrics.jsonl</c> (rank 0 appends one per committed checkpoint, failed checkpoint and restart).
/// The field <c>event</c> says which record it is. Times are seconds, sizes bytes; docs/FORMAT.md lists every field.
/// Read them back with <see cref="MetricsLog.Read"/>.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "event")]
[JsonDerivedType(typeof(CheckpointEvent), "checkpoint")]
[JsonDerivedType(typeof(CheckpointFailedEvent), "checkpoint_failed")]
[JsonDerivedType(typeof(RestartEvent), "restart")]
public abstract record MetricsEvent
{
    /// <summary>When the event was recorded (after the commit, the failure or the restore), UTC.</summary>
    [JsonPropertyName("time_utc")]
    public required DateTime TimeUtc { get; init; }

    /// <summary>The app name stored in snapshots.</summary>
    [JsonPropertyName("app")]
    public required string App { get; init; }

    /// <summary>The step of the snapshot.</summary>
    [JsonPropertyName("step")]
    public required long Step { get; init; }
}

/// <summary>A committed checkpoint (<c>"event": "checkpoint"</c>).</summary>
public sealed record CheckpointEvent : MetricsEvent
{
    /// <summary>every-steps, every-seconds, auto-interval, request, walltime, max-runtime, signal or final.</summary>
    [JsonPropertyName("trigger")]
    public required string Trigger { get; init; }

    /// <summary>Writers.</summary>
    [JsonPropertyName("ranks")]
    public required int Ranks { get; init; }

    /// <summary>Bytes of /state.</summary>
    [JsonPropertyName("bytes")]
    public required long Bytes { get; init; }

    /// <summary>The step-boundary allreduce that decided it.</summary>
    [JsonPropertyName("agree_s")]
    public required double AgreeSeconds { get; init; }

    /// <summary>With --checkpoint-async: the time the app waited while its state was copied; null when synchronous.</summary>
    [JsonPropertyName("stage_s")]
    public double? StageSeconds { get; init; }

    /// <summary>Create, write datasets and checksums, close.</summary>
    [JsonPropertyName("write_s")]
    public required double WriteSeconds { get; init; }

    /// <summary>fsync on every rank.</summary>
    [JsonPropertyName("flush_s")]
    public required double FlushSeconds { get; init; }

    /// <summary>Rename, directory fsync, latest pointer, retention.</summary>
    [JsonPropertyName("commit_s")]
    public required double CommitSeconds { get; init; }

    /// <summary>Everything, as rank 0 saw it: the checkpoint cost C.</summary>
    [JsonPropertyName("total_s")]
    public required double TotalSeconds { get; init; }

    /// <summary>ckpt-STEP.h5 (global), or rank 0's node-local file (local levels).</summary>
    [JsonPropertyName("file")]
    public required string File { get; init; }

    /// <summary>Where it was committed: <c>global</c>, <c>local</c> or <c>local+partner</c> (docs/MULTILEVEL.md).</summary>
    [JsonPropertyName("level")]
    public string Level { get; init; } = "global";

    /// <summary>The wall-clock interval in effect after this checkpoint; null when there is none.</summary>
    [JsonPropertyName("interval_s")]
    public double? IntervalSeconds { get; init; }
}

/// <summary>A checkpoint that failed and was discarded (<c>"event": "checkpoint_failed"</c>).</summary>
public sealed record CheckpointFailedEvent : MetricsEvent
{
    /// <summary>What asked for it (see <see cref="CheckpointEvent.Trigger"/>).</summary>
    [JsonPropertyName("trigger")]
    public required string Trigger { get; init; }

    /// <summary>True when it was written by the I/O thread (--checkpoint-async).</summary>
    [JsonPropertyName("async")]
    public required bool Async { get; init; }

    /// <summary>What went wrong.</summary>
    [JsonPropertyName("error")]
    public required string Error { get; init; }

    /// <summary>The level that failed: <c>global</c>, <c>local</c> or <c>local+partner</c>.</summary>
    [JsonPropertyName("level")]
    public string Level { get; init; } = "global";
}

/// <summary>A run resumed from a snapshot (<c>"event": "restart"</c>).</summary>
public sealed record RestartEvent : MetricsEvent
{
    /// <summary>n for the n-th resume.</summary>
    [JsonPropertyName("restart_count")]
    public required int RestartCount { get; init; }

    /// <summary>Ranks of this run.</summary>
    [JsonPropertyName("ranks")]
    public required int Ranks { get; init; }

    /// <summary>Ranks of the run that wrote the snapshot.</summary>
    [JsonPropertyName("writer_ranks")]
    public required long WriterRanks { get; init; }

    /// <summary>Bytes of /state read.</summary>
    [JsonPropertyName("bytes")]
    public required long Bytes { get; init; }

    /// <summary>Open, validate and read.</summary>
    [JsonPropertyName("read_s")]
    public required double ReadSeconds { get; init; }

    /// <summary>Checksum verification.</summary>
    [JsonPropertyName("verify_s")]
    public required double VerifySeconds { get; init; }

    /// <summary>Everything (read + verify), as rank 0 saw it.</summary>
    [JsonPropertyName("total_s")]
    public required double TotalSeconds { get; init; }

    /// <summary>The snapshot resumed from (global), or what the local level used.</summary>
    [JsonPropertyName("file")]
    public required string File { get; init; }

    /// <summary>The level resumed from: <c>local</c>, <c>partner</c> or <c>global</c> (docs/MULTILEVEL.md).</summary>
    [JsonPropertyName("level")]
    public string Level { get; init; } = "global";

    /// <summary>Newer snapshots that were skipped, each with the reason.</summary>
    [JsonPropertyName("skipped")]
    public required IReadOnlyList<string> Skipped { get; init; }
}

/// <summary>Source-generated JSON for <see cref="MetricsEvent"/> (no reflection).</summary>
[JsonSourceGenerationOptions(AllowOutOfOrderMetadataProperties = true)]
[JsonSerializable(typeof(MetricsEvent))]
internal sealed partial class MetricsJsonContext : JsonSerializerContext;

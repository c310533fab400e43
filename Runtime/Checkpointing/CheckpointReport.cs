namespace Coordinated.Checkpointing;

/// <summary>What the app does after <see cref="Checkpointer.AtStepBoundary"/>.</summary>
public enum StepDecision
{
    /// <summary>Go on with the next step.</summary>
    Continue,

    /// <summary>A checkpoint of this step is committed (or the step was already on disk): return <see cref="ExitCodes.Stopped"/>.</summary>
    Stop,
}

/// <summary>Timings of one committed checkpoint (seconds). Same on all ranks except where noted.</summary>
/// <param name="Step">Completed steps captured.</param>
/// <param name="Trigger">every-steps, every-seconds, auto-interval, request, walltime, max-runtime or signal.</param>
/// <param name="FileName">ckpt-STEP.h5.</param>
/// <param name="Bytes">Bytes of /state.</param>
/// <param name="Ranks">Writers.</param>
/// <param name="AgreeSeconds">The step-boundary allreduce that decided it.</param>
/// <param name="WriteSeconds">Create, write datasets and checksums, close.</param>
/// <param name="FlushSeconds">fsync on every rank.</param>
/// <param name="CommitSeconds">Rename, directory fsync, latest pointer, retention.</param>
/// <param name="TotalSeconds">Everything, as seen by this rank.</param>
public sealed record CheckpointReport(
    long Step, string Trigger, string FileName, long Bytes, int Ranks,
    double AgreeSeconds, double WriteSeconds, double FlushSeconds, double CommitSeconds, double TotalSeconds)
{
    /// <summary>With --checkpoint-async: the seconds the app waited while its state was copied; null when synchronous.</summary>
    public double? StageSeconds { get; init; }

    /// <summary>Where it was committed: <c>global</c> (<see cref="FileName"/> in --checkpoint-dir), or <c>local</c> / <c>local+partner</c> (<see cref="FileName"/> in this node's --checkpoint-local-dir).</summary>
    public string Level { get; init; } = "global";
}

namespace Coordinated.Checkpointing;

/// <summary>What to do when a periodic checkpoint fails.</summary>
public enum CheckpointErrorPolicy
{
    /// <summary>Warn, keep the previous snapshot, go on computing.</summary>
    Continue,

    /// <summary>Stop the run with exit 74.</summary>
    Stop,
}

/// <summary>Runtime settings, normally bound from the command line by <see cref="Hosting.RuntimeCommandLine"/>.</summary>
public sealed record CheckpointOptions
{
    /// <summary>Where snapshots live (--checkpoint-dir).</summary>
    public string Directory { get; init; } = "checkpoints";

    /// <summary>Checkpoint every K completed steps; 0 = off.</summary>
    public long EverySteps { get; init; }

    /// <summary>Checkpoint every T seconds of wall-clock time; 0 = off.</summary>
    public double EverySeconds { get; init; }

    /// <summary>Choose the interval from Daly's formula with the measured checkpoint cost (needs <see cref="MtbfSeconds"/>).</summary>
    public bool AutoInterval { get; init; }

    /// <summary>Mean time between failures (seconds), for the automatic interval.</summary>
    public double MtbfSeconds { get; init; }

    /// <summary>Stop with a checkpoint once this many seconds have passed since start; 0 = off.</summary>
    public double MaxRuntimeSeconds { get; init; }

    /// <summary>Inside a Slurm job with a time limit: stop with a checkpoint when fewer seconds than this remain; 0 = off.</summary>
    public double WalltimeReserveSeconds { get; init; } = 120;

    /// <summary>Refuse to resume after this many Slurm requeues (SLURM_RESTART_COUNT).</summary>
    public int MaxRequeues { get; init; } = 5;

    /// <summary>Committed snapshots to keep.</summary>
    public int Keep { get; init; } = 2;

    /// <summary>Ignore existing snapshots and start at step 0; they are removed once the first new one commits.</summary>
    public bool Fresh { get; init; }

    /// <summary>Signals that mean "checkpoint and stop".</summary>
    public IReadOnlyList<string> StopSignals { get; init; } = Checkpointing.StopSignals.Defaults;

    /// <summary>What a failed periodic checkpoint does.</summary>
    public CheckpointErrorPolicy OnCheckpointError { get; init; } = CheckpointErrorPolicy.Continue;

    /// <summary>Requeue the Slurm job after a stop with a checkpoint (exit 75), when inside a job that allows it.</summary>
    public bool Requeue { get; init; } = true;

    /// <summary>
    /// Periodic checkpoints copy the state into a staging buffer at the step boundary and are written and committed
    /// by an I/O thread while the computation goes on (needs MPI_THREAD_MULTIPLE and memory for one copy of the
    /// state). Stop checkpoints (signals, deadlines) stay synchronous.
    /// </summary>
    public bool Async { get; init; }

    /// <summary>Write an XDMF sidecar next to every committed snapshot (--checkpoint-xdmf, <see cref="XdmfSidecar"/>).</summary>
    public bool Xdmf { get; init; }

    /// <summary>
    /// Node-local directory of the local checkpoint level (--checkpoint-local-dir; <c>%N</c> = node name,
    /// <c>%j</c> = SLURM_JOB_ID or <c>nojob</c>); null = global level only (docs/MULTILEVEL.md).
    /// </summary>
    public string? LocalDirectory { get; init; }

    /// <summary>With a local level: every K-th checkpoint is also global (--global-every; stops and the final one always are).</summary>
    public int GlobalEvery { get; init; } = 10;

    /// <summary>With a local level: no partner copies (--no-partner).</summary>
    public bool NoPartner { get; init; }

    /// <summary>Print progress of the runtime on rank 0.</summary>
    public bool Quiet { get; init; }
}

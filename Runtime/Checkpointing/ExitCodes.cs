namespace Coordinated;

/// <summary>Process exit codes used by every Coordinated app (values follow BSD sysexits.h where one fits).</summary>
public static class ExitCodes
{
    /// <summary>The run finished.</summary>
    public const int Success = 0;

    /// <summary>An unexpected failure (see the rank-tagged message on stderr).</summary>
    public const int Failure = 1;

    /// <summary>Bad command-line arguments (EX_USAGE). Nothing was computed or written.</summary>
    public const int Usage = 64;

    /// <summary>Checkpoint data is incompatible or unreadable, and there is no valid snapshot to resume from (EX_DATAERR).</summary>
    public const int DataError = 65;

    /// <summary>The checkpoint directory cannot be used: not writable, not creatable, or locked by another run (EX_CANTCREAT).</summary>
    public const int CannotUseDirectory = 73;

    /// <summary>A checkpoint that had to be written (on a stop, or with --on-checkpoint-error stop) failed (EX_IOERR).</summary>
    public const int CheckpointFailed = 74;

    /// <summary>Stopped after a committed checkpoint (signal, deadline or request). Rerun the same command to resume (EX_TEMPFAIL).</summary>
    public const int Stopped = 75;

    /// <summary>Not resumed: the requeue limit (--max-requeues) was reached.</summary>
    public const int RequeueLimit = 76;
}

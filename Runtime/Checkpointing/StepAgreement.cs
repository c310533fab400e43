using System.Diagnostics;
using System.Globalization;
using Coordinated.Mpi;
using Coordinated.Slurm;

namespace Coordinated.Checkpointing;

/// <summary>Why a checkpoint was taken. Higher values win when ranks vote differently.</summary>
internal enum Trigger
{
    None = 0,
    EverySteps = 1,
    EverySeconds = 2,
    Auto = 3,
    Request = 4,
    Walltime = 5,
    MaxRuntime = 6,
    Signal = 7,
    Final = 8,
}

/// <summary>Names of the triggers as snapshots, logs and metrics record them.</summary>
internal static class Triggers
{
    internal static string Name(Trigger trigger) => trigger switch
    {
        Trigger.EverySteps => "every-steps",
        Trigger.EverySeconds => "every-seconds",
        Trigger.Auto => "auto-interval",
        Trigger.Final => "final",
        Trigger.Request => "request",
        Trigger.Walltime => "walltime",
        Trigger.MaxRuntime => "max-runtime",
        Trigger.Signal => "signal",
        _ => "none",
    };
}

/// <summary>
/// The step agreement and its triggers. At every step boundary each rank votes (a stop signal arrived here; a
/// checkpoint is due every K steps), rank 0 adds the votes only it can see (--max-runtime, the Slurm job's end time,
/// request files, the wall-clock or automatic interval), and one allreduce (max) makes the decision the same on
/// every rank. Nothing here blocks: the job's end time is read in the background (<see cref="JobEndTime"/>).
/// </summary>
internal sealed class StepAgreement : IDisposable
{
    private readonly Communicator _comm;
    private readonly CheckpointOptions _options;
    private readonly CheckpointDirectory? _directory; // rank 0 only
    private readonly JobEndTime? _endTime;            // rank 0 only, inside a Slurm job with --walltime-reserve
    private readonly Stopwatch _sinceStart = Stopwatch.StartNew();
    private readonly Stopwatch _sinceCheckpoint = Stopwatch.StartNew();
    private readonly Stopwatch _sinceRequestCheck = Stopwatch.StartNew();

    internal StepAgreement(Communicator comm, CheckpointOptions options, CheckpointDirectory? directory)
    {
        _comm = comm;
        _options = options;
        _directory = directory;
        Interval = new IntervalPolicy(options);
        _endTime = comm.IsRoot && options.WalltimeReserveSeconds > 0 ? JobEndTime.Start() : null;
    }

    /// <summary>The wall-clock interval (fixed or Daly's); decided on rank 0.</summary>
    internal IntervalPolicy Interval { get; }

    /// <summary>Seconds since the run started (rank-local clock).</summary>
    internal double ElapsedSeconds => _sinceStart.Elapsed.TotalSeconds;

    /// <summary>A checkpoint was just started or taken: the interval counts from now. Local.</summary>
    internal void CheckpointTaken() => _sinceCheckpoint.Restart();

    /// <summary>Agrees whether to stop and whether to checkpoint after <paramref name="step"/>. Collective (one allreduce).</summary>
    internal (Trigger Stop, Trigger Checkpoint, double Seconds) Vote(long step)
    {
        var agree = Stopwatch.StartNew();
        Span<int> votes = [0, 0];
        if (StopSignals.Requested)
        {
            votes[0] = (int)Trigger.Signal;
        }

        if (_options.EverySteps > 0 && step % _options.EverySteps == 0)
        {
            votes[1] = (int)Trigger.EverySteps;
        }

        if (_comm.IsRoot)
        {
            RootVotes(votes);
        }

        _comm.Allreduce(votes, ReduceOp.Max);
        return ((Trigger)votes[0], (Trigger)votes[1], agree.Elapsed.TotalSeconds);
    }

    /// <summary>Agrees whether a stop signal arrived on any rank (during start-up). Collective.</summary>
    internal bool AnyStopSignal() => _comm.Allreduce(StopSignals.Requested ? 1 : 0, ReduceOp.Max) != 0;

    /// <summary>Why a stop happened, in words for the log. Local (rank 0 knows the most).</summary>
    internal string Describe(Trigger trigger) => trigger switch
    {
        Trigger.Signal => StopSignals.LastSignal is string signal ? $"signal {signal}" : "signal received on another rank",
        Trigger.MaxRuntime => "--max-runtime reached",
        Trigger.Walltime => _endTime?.RemainingSeconds is double left
            ? string.Create(CultureInfo.InvariantCulture, $"Slurm time limit near: {left:F0} s left, less than --walltime-reserve")
            : "Slurm time limit near (--walltime-reserve)",
        Trigger.Request => $"'{CheckpointDirectory.StopRequestName}' request file",
        _ => Triggers.Name(trigger),
    };

    private void RootVotes(Span<int> votes)
    {
        if (_options.MaxRuntimeSeconds > 0 && ElapsedSeconds >= _options.MaxRuntimeSeconds)
        {
            votes[0] = Math.Max(votes[0], (int)Trigger.MaxRuntime);
        }

        if (_endTime?.RemainingSeconds is double left && left < _options.WalltimeReserveSeconds)
        {
            votes[0] = Math.Max(votes[0], (int)Trigger.Walltime);
        }

        if (_sinceRequestCheck.Elapsed.TotalSeconds >= 0.2)
        {
            _sinceRequestCheck.Restart();
            if (_directory!.TakeRequest(CheckpointDirectory.StopRequestName))
            {
                votes[0] = Math.Max(votes[0], (int)Trigger.Request);
            }
            else if (_directory.TakeRequest(CheckpointDirectory.CheckpointRequestName))
            {
                votes[1] = Math.Max(votes[1], (int)Trigger.Request);
            }
        }

        if (Interval.CurrentIntervalSeconds is double seconds && _sinceCheckpoint.Elapsed.TotalSeconds >= seconds)
        {
            votes[1] = Math.Max(votes[1], (int)(_options.AutoInterval ? Trigger.Auto : Trigger.EverySeconds));
        }
    }

    /// <summary>Stops reading the job's end time. Local.</summary>
    public void Dispose() => _endTime?.Dispose();
}

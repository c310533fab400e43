using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Coordinated.Mpi;

namespace Coordinated.Checkpointing;

/// <summary>
/// --checkpoint-async: copies the state into staging buffers at the step boundary and hands the copy to an I/O
/// thread that writes and commits it over its own communicator with exactly the synchronous protocol
/// (<see cref="CommitProtocol"/>), while the app goes on computing. At most one checkpoint is in flight.
/// </summary>
internal sealed class AsyncCommitter(Communicator ioComm)
{
    private byte[]?[]? _staging; // one reusable copy of each array
    private Thread? _io;
    private CommitOutcome? _outcome;
    private Exception? _error;

    /// <summary>True when a checkpoint has finished on this rank and it succeeded (reporting it needs no agreement). Local.</summary>
    internal bool SucceededAndFinished => _io is { IsAlive: false } && _error is null && _outcome?.Failure is null;

    /// <summary>
    /// Stages the state and starts writing it. <paramref name="commit"/> gets the I/O communicator, the staged
    /// content and the staging seconds. Collective (the I/O threads of all ranks then work together).
    /// </summary>
    internal void Start(StateRegistry state, int restartCount, Func<Communicator, SnapshotContent, double, CommitOutcome> commit)
    {
        SnapshotContent content = Stage(state, restartCount, out double stageSeconds);
        Start(content, stageSeconds, commit);
    }

    /// <summary>True while a checkpoint is being written by the I/O thread. Local.</summary>
    internal bool Running => _io is { IsAlive: true };

    /// <summary>Copies the state into the staging buffers (the copy <see cref="Start(SnapshotContent, double, Func{Communicator, SnapshotContent, double, CommitOutcome})"/> then writes). Local.</summary>
    internal SnapshotContent Stage(StateRegistry state, int restartCount, out double seconds)
    {
        if (_io is not null)
        {
            throw new InvalidOperationException("an asynchronous checkpoint is still in flight; wait for it first.");
        }

        var stage = Stopwatch.StartNew();
        SnapshotContent content = state.Stage(restartCount, ref _staging);
        seconds = stage.Elapsed.TotalSeconds;
        return content;
    }

    /// <summary>Starts writing staged <paramref name="content"/> on the I/O thread. Collective (the I/O threads of all ranks then work together).</summary>
    internal void Start(SnapshotContent content, double stageSeconds, Func<Communicator, SnapshotContent, double, CommitOutcome> commit)
    {
        if (_io is not null)
        {
            throw new InvalidOperationException("an asynchronous checkpoint is still in flight; wait for it first.");
        }

        _io = new Thread(() =>
        {
            try
            {
                _outcome = commit(ioComm, content, stageSeconds);
            }
            catch (Exception e)
            {
                _error = e;
            }
        })
        {
            IsBackground = true,
            Name = "coordinated-io",
        };
        _io.Start();
    }

    /// <summary>Waits for the checkpoint in flight; null when there is none. Rethrows what the I/O thread threw. Local.</summary>
    internal CommitOutcome? Wait()
    {
        if (_io is null)
        {
            return null;
        }

        _io.Join();
        _io = null;
        var (outcome, error) = (_outcome, _error);
        (_outcome, _error) = (null, null);
        if (error is not null)
        {
            ExceptionDispatchInfo.Throw(error);
        }

        return outcome!;
    }
}

using System.Globalization;
using Coordinated.Mpi;
using Coordinated.Slurm;

namespace Coordinated.Checkpointing;

/// <summary>
/// Coordinated checkpoint/restart of an app's partitioned state. Typical use:
/// <code>
/// using var checkpointer = Checkpointer.Create(world, "counter", options);
/// checkpointer.AddParameter("counters", k);
/// checkpointer.Register("count", counts, globalOffset: first, globalCount: k);
/// for (long step = checkpointer.Restore(); step &lt; steps;)
/// {
///     Compute(); step++;
///     if (checkpointer.AtStepBoundary(step) == StepDecision.Stop) return ExitCodes.Stopped;
/// }
/// </code>
/// All members are collective (every rank calls them, in the same order) unless stated otherwise. This class is a
/// facade (docs/ARCHITECTURE.md): the registered state is <see cref="StateRegistry"/>, the step agreement
/// <see cref="StepAgreement"/>, the commit protocol <see cref="CommitProtocol"/>, the I/O thread
/// <see cref="AsyncCommitter"/>, restart <see cref="Recovery"/>, the local and partner levels <see cref="LocalLevel"/>,
/// the Slurm job <see cref="SlurmJob"/>.
/// </summary>
public sealed class Checkpointer : IDisposable
{
    private readonly Communicator _comm;
    private readonly CheckpointOptions _options;
    private readonly CheckpointDirectory? _directory; // rank 0 only
    private readonly string _directoryPath;
    private readonly StateRegistry _state;
    private readonly StepAgreement _agreement;
    private readonly CommitProtocol _protocol;
    private readonly RuntimeLog _log;
    private readonly CheckpointReporter _reporter;
    private AsyncCommitter? _async;
    private LocalLevel? _local;
    private long _localCheckpoints;
    private long _drainStep = -1;
    private long _lastOnDiskStep = -1; // any level
    private long _lastGlobalStep = -1;
    private bool _restored;
    private bool _disposed;

    private Checkpointer(Communicator comm, string app, CheckpointOptions options, CheckpointDirectory? directory, string directoryPath, string hosts)
    {
        _comm = comm;
        _options = options;
        _directory = directory;
        _directoryPath = directoryPath;
        _state = new StateRegistry(comm, app, hosts);
        _agreement = new StepAgreement(comm, options, directory);
        _protocol = new CommitProtocol(directory, directoryPath, options.Keep, options.Xdmf);
        _log = new RuntimeLog(comm, options.Quiet);
        _reporter = new CheckpointReporter(app, options, _log, _agreement.Interval,
            comm.IsRoot ? new MetricsLog(Path.Combine(directoryPath, "metrics.jsonl")) : null);
        RestartCount = SlurmJob.RestartCount ?? 0;
    }

    /// <summary>App name stored in every snapshot; a snapshot of another app is never loaded.</summary>
    public string App => _state.App;

    /// <summary>This rank.</summary>
    public int Rank => _comm.Rank;

    /// <summary>Number of ranks.</summary>
    public int Ranks => _comm.Size;

    /// <summary>0 for a first run; n for the n-th resume (SLURM_RESTART_COUNT inside a requeued Slurm job).</summary>
    public int RestartCount { get; private set; }

    /// <summary>The last committed checkpoint of this run, if any. Same on all ranks.</summary>
    public CheckpointReport? LastCheckpoint { get; private set; }

    /// <summary>Seconds since this checkpointer was created (rank-local clock).</summary>
    public double ElapsedSeconds => _agreement.ElapsedSeconds;

    /// <summary>
    /// Opens the checkpoint directory (created if missing; must be writable; locked against a second run) and removes
    /// leftovers of a killed run. Collective. Fails with exit 73 if the directory cannot be used.
    /// </summary>
    public static Checkpointer Create(Communicator comm, string app, CheckpointOptions options)
    {
        ArgumentNullException.ThrowIfNull(comm);
        ArgumentException.ThrowIfNullOrWhiteSpace(app);
        ArgumentNullException.ThrowIfNull(options);
        _ = IoTuning.Default; // a bad COORDINATED_IO or COORDINATED_MPIIO_HINTS is a usage error before anything starts (same on every rank)

        var (directory, path, removed) = CheckpointDirectory.OpenOnRoot(comm, options.Directory, app);
        var checkpointer = new Checkpointer(comm, app, options, directory, path, StateRegistry.GatherHosts(comm));
        try
        {
            checkpointer.Start(removed);
            return checkpointer;
        }
        catch
        {
            checkpointer.Dispose();
            throw;
        }
    }

    private void Start(List<string> removed)
    {
        foreach (string name in removed)
        {
            _log.Info($"removed {name}, left by a run that was killed while writing it");
        }

        if (IoTuning.Default.MpiIoHints is { Count: > 0 } hints)
        {
            _log.Info($"MPI-IO hints for snapshot files: {string.Join("; ", hints.Select(h => $"{h.Key}={h.Value}"))}");
        }

        if (_options.AutoInterval && _agreement.Interval.CurrentIntervalSeconds is double first)
        {
            _log.Info($"auto interval: {_agreement.Interval.Explain()}; first checkpoint in {first.ToString("F1", CultureInfo.InvariantCulture)} s, then updated from each measured cost");
        }

        if (SlurmJob.RequeueLimitExceeded(RestartCount, _options.MaxRequeues) is CoordinatedException limit)
        {
            throw limit;
        }

        if (_options.Async)
        {
            if (!MpiEnvironment.ThreadMultiple)
            {
                throw new CoordinatedException(
                    "--checkpoint-async needs MPI_THREAD_MULTIPLE, which this MPI library did not grant " +
                    "(apps started through CoordinatedApp.Run ask for it). What to do: run without --checkpoint-async.",
                    ExitCodes.Usage, isCollective: true);
            }

            _async = new AsyncCommitter(_comm.Duplicate());
        }

        if (_options.LocalDirectory is not null)
        {
            _local = LocalLevel.Open(_comm, App, _options, _log);
        }
    }

    /// <summary>
    /// Declares an app parameter that every snapshot records and that must be equal on restart
    /// (a snapshot with another value is refused). Local: call with the same values on every rank.
    /// </summary>
    public void AddParameter(string name, long value) => _state.AddParameter(name, value);

    /// <inheritdoc cref="AddParameter(string, long)"/>
    public void AddParameter(string name, double value) => _state.AddParameter(name, value);

    /// <inheritdoc cref="AddParameter(string, long)"/>
    public void AddParameter(string name, string value) => _state.AddParameter(name, value);

    /// <summary>
    /// Registers a scalar of the simulation (e.g. the simulated time) saved with every snapshot and restored by
    /// <see cref="Restore"/> through <paramref name="set"/>. Local: register the same scalars on every rank.
    /// </summary>
    public void RegisterScalar(string name, Func<double> get, Action<double> set) => _state.AddScalar(name, get, set);

    /// <summary>
    /// Registers this rank's slice of a global array saved as <c>/state/NAME</c> with shape [globalCount, components].
    /// <paramref name="local"/> holds elements [globalOffset, globalOffset + local.Length / components), stored
    /// row-major. The slices of all ranks must tile the global array exactly. Collective.
    /// </summary>
    /// <typeparam name="T">double, float, long, ulong, int, uint, byte, bool, or an unmanaged struct whose fields (flattened) are all one of these, without padding (stored as that many components).</typeparam>
    public void Register<T>(string name, Memory<T> local, long globalOffset, long globalCount, int components = 1)
        where T : unmanaged => _state.AddArray(name, local, globalOffset, globalCount, components);

    /// <inheritdoc cref="Register{T}(string, Memory{T}, long, long, int)"/>
    public void Register<T>(string name, T[] local, long globalOffset, long globalCount, int components = 1) where T : unmanaged =>
        Register(name, local.AsMemory(), globalOffset, globalCount, components);

    /// <summary>
    /// Registers variable-size state: rows with global ids 0 .. <paramref name="globalRows"/> - 1, spread over the ranks
    /// in any way that changes as the run goes (see <see cref="RowSet"/>). <paramref name="ids"/> is called at each
    /// checkpoint and returns the ids of the rows this rank holds now; add the columns to the returned set. The ids
    /// are saved as <c>/state/IDNAME</c>. Collective.
    /// </summary>
    public RowSet RegisterRows(string idName, long globalRows, Func<ReadOnlyMemory<long>> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return _state.AddRows(idName, globalRows, ids);
    }

    /// <summary>
    /// Registers this rank's block of a global N-d array (a stencil code's subdomain with its halo): the array has shape
    /// <paramref name="globalShape"/>; this rank holds [start, start + count) in each dimension, stored row-major in
    /// <paramref name="local"/> with <paramref name="halo"/> extra cells on every side (not saved, not restored). The
    /// blocks of all ranks must tile the array. Saved as <c>/state/NAME</c>, flattened in row-major order, with the
    /// parameter <c>NAME_shape</c>; <see cref="Restore"/> fills the interiors of whatever blocks the ranks of the
    /// restarted run registered, on any rank count and decomposition. Collective.
    /// </summary>
    /// <typeparam name="T">As <see cref="Register{T}(string, Memory{T}, long, long, int)"/>.</typeparam>
    public void RegisterBlock<T>(string name, Memory<T> local, long[] globalShape, long[] start, long[] count, int halo = 0) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(globalShape);
        ArgumentNullException.ThrowIfNull(start);
        ArgumentNullException.ThrowIfNull(count);
        _ = new BlockArray<T>(_comm, _state, name, local, [.. globalShape], [.. start], [.. count], halo);
    }

    /// <summary>
    /// Registers private state of this rank (an RNG stream, a counter) of the same length on every rank, saved as
    /// <c>/state/NAME</c> with one row per rank. On restore <paramref name="restore"/> gets every saved rank's row and the
    /// rank count that wrote them, and fills <paramref name="mine"/>: the app's policy for a changed rank count
    /// (continue, re-seed, split or merge). Not called when nothing was restored. Collective.
    /// </summary>
    /// <typeparam name="T">As <see cref="Register{T}(string, Memory{T}, long, long, int)"/>.</typeparam>
    public void RegisterRankState<T>(string name, T[] mine, RankStateRestorer<T> restore) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(mine);
        ArgumentNullException.ThrowIfNull(restore);
        ArgumentOutOfRangeException.ThrowIfLessThan(mine.Length, 1);
        if (_comm.Allreduce(mine.Length, ReduceOp.Max) != mine.Length || _comm.Allreduce(mine.Length, ReduceOp.Min) != mine.Length)
        {
            throw new ArgumentException($"rank state '{name}': every rank must register the same length.");
        }

        _state.AddRankState(new RankStateArray<T>(name, mine, _comm.Rank, _comm.Size, restore));
    }

    /// <summary>
    /// Loads the newest snapshot that verifies into the registered arrays and scalars and returns its step; returns 0
    /// when there is none (or with --fresh). Damaged or foreign snapshots are reported and skipped. If snapshots exist
    /// but none can be used, throws (exit 65) without touching any file. Collective.
    /// </summary>
    public long Restore()
    {
        if (_restored)
        {
            throw new InvalidOperationException("Restore was already called.");
        }

        _restored = true;
        string[] names = Recovery.Candidates(_comm, _directory, _log);
        if (_options.Fresh)
        {
            _protocol.ReplaceOnFirstCommit(names);
            if (names.Length > 0)
            {
                _log.Info($"--fresh: starting at step 0; the {names.Length} existing snapshot(s) in {_directoryPath} will be removed when the first new one is committed");
            }

            _log.Info("restart level: none step 0: --fresh");
            return StartAt(0);
        }

        var result = Recovery.LoadNewestAcrossLevels(_comm, _directoryPath, names, _state, _log, _local, _options.LocalDirectory);
        if (result.Outcome is { } outcome)
        {
            return Resumed(outcome, result);
        }

        if (names.Length > 0)
        {
            throw new CoordinatedException(
                $"no usable snapshot in {_directoryPath}; none was changed:\n  " + string.Join("\n  ", result.Skipped) +
                "\nWhat to do: if these are from another run or app, point --checkpoint-dir elsewhere; to discard them and start over, add --fresh.",
                ExitCodes.DataError, isCollective: true);
        }

        _log.Info($"restart level: none step 0: nothing to restore (no global snapshot in {_directoryPath}; {result.Why})");
        RestartCount = 0;
        return StartAt(0);
    }

    /// <summary>After a checkpoint was loaded (from any level): the restart count, the log line, metrics, row sets. Collective.</summary>
    private long Resumed(SnapshotReader.ReadOutcome outcome, Recovery.Result result)
    {
        RestartCount = SlurmJob.RestartCount ?? ((int)outcome.RestartCount + 1);
        _lastOnDiskStep = outcome.Step;
        _lastGlobalStep = result.GlobalStep ?? -1;
        _log.Info($"resumed from step {outcome.Step} (restart {RestartCount}) from {result.Name}, written by {outcome.WriterRanks} rank(s): " +
            $"{RuntimeLog.FormatBytes(outcome.Bytes)} read and verified in {result.Seconds:F3} s");
        _reporter.Restarted(outcome, result, RestartCount, _comm.Size);
        _state.RowsLoaded();
        _agreement.CheckpointTaken();
        return StartAt(outcome.Step);
    }

    /// <summary>Returns <paramref name="step"/>, unless a stop signal arrived while starting or restoring: then the run ends here, nothing new to save.</summary>
    private long StartAt(long step)
    {
        if (!_agreement.AnyStopSignal())
        {
            return step;
        }

        string state = _lastOnDiskStep >= 0 ? $"step {step} is already committed" : "nothing was computed yet";
        _log.Info($"stopping at step {step} (signal during start-up); {state}; rerun the same command to resume");
        throw new CoordinatedException($"stopped during start-up by a signal ({state}).", ExitCodes.Stopped, isCollective: true);
    }

    /// <summary>
    /// Call after every completed step with the number of completed steps. Agrees with the other ranks (one small
    /// allreduce) whether a checkpoint is due or a stop was asked for (signal on any rank, deadline, request file),
    /// takes the checkpoint if so, and tells the app whether to go on. Collective.
    /// </summary>
    public StepDecision AtStepBoundary(long step)
    {
        FaultInjection.At("step-boundary", _comm.Rank, step);
        if (_async is { SucceededAndFinished: true })
        {
            // A finished asynchronous checkpoint is reported as soon as it is noticed. Only successes are taken
            // here, rank by rank: a failure may stop the run, so it waits for the next collective point.
            WaitForPending();
        }

        var (stop, checkpoint, agreeSeconds) = _agreement.Vote(step);
        if (stop != Trigger.None)
        {
            WaitForPending(atExit: true);
            if (step == _lastGlobalStep)
            {
                _log.Info($"stopping at step {step} ({_agreement.Describe(stop)}); step {step} is already committed");
                return StepDecision.Stop;
            }

            if (TryCheckpoint(step, stop, agreeSeconds, out string? failure) is null)
            {
                throw new CoordinatedException(
                    $"asked to stop ({_agreement.Describe(stop)}) but the checkpoint of step {step} failed: {failure}. " +
                    $"The previous snapshot{(_lastOnDiskStep >= 0 ? $" (step {_lastOnDiskStep})" : "")} is intact. What to do: free space or fix {_directoryPath}, then rerun the same command.",
                    ExitCodes.CheckpointFailed, isCollective: true);
            }

            _log.Info($"stopping after checkpoint of step {step} ({_agreement.Describe(stop)}); rerun the same command to resume");
            return StepDecision.Stop;
        }

        if (checkpoint == Trigger.None || step == _lastOnDiskStep)
        {
            return StepDecision.Continue;
        }

        if (_local is { Enabled: true } && ++_localCheckpoints % _options.GlobalEvery != 0)
        {
            _state.GatherRows();
            bool committed = WriteLocal(_state.Capture(RestartCount), step, checkpoint, agreeSeconds, stageSeconds: null);
            _agreement.CheckpointTaken();
            if (committed)
            {
                return StepDecision.Continue;
            }

            // The local level failed and is off now: this checkpoint is global.
        }

        if (_async is not null)
        {
            WaitForPending();
            _state.GatherRows();
            SnapshotContent content = _async.Stage(_state, RestartCount, out double stageSeconds);
            if (_local is { Enabled: true })
            {
                // The K-th checkpoint: the global write drains from the same staged copy that the local level stores now.
                WriteLocal(content, step, checkpoint, agreeSeconds, stageSeconds: null); // the staging is the global write's cost
            }

            _drainStep = step;
            _async.Start(content, stageSeconds, (io, staged, seconds) => _protocol.CommitSnapshot(io, staged, step, checkpoint, agreeSeconds, seconds));
            _agreement.CheckpointTaken();
        }
        else if (TryCheckpoint(step, checkpoint, agreeSeconds, out string? failure, alsoLocal: true) is null)
        {
            OnPeriodicFailure($"checkpoint of step {step} failed", failure);
        }

        return StepDecision.Continue;
    }

    /// <summary>
    /// Call when the run has done all its steps: commits a final snapshot (trigger "final") unless this step is already
    /// on disk, so that rerunning the finished command does no work again and a longer run can continue from here.
    /// Collective.
    /// </summary>
    public void Complete(long step)
    {
        WaitForPending(atExit: true);
        if (step != _lastGlobalStep && TryCheckpoint(step, Trigger.Final, 0, out string? failure) is null)
        {
            _log.Warning($"the final checkpoint of step {step} failed: {failure}. The results are complete; only a later continuation would have to recompute from the previous snapshot.");
        }
    }

    /// <summary>Checkpoint now, whatever the triggers say (e.g. at the end of a phase). Collective.</summary>
    public CheckpointReport Checkpoint(long step) =>
        TryCheckpoint(step, Trigger.Request, 0, out string? failure)
            ?? throw new CoordinatedException($"checkpoint of step {step} failed: {failure}", ExitCodes.CheckpointFailed, isCollective: true);

    /// <summary>
    /// A local (and partner) checkpoint now, whatever the triggers say (benchmarks: the cost of the local level alone).
    /// Needs --checkpoint-local-dir with a usable directory; throws (exit 74) if the local level is off or the write fails.
    /// Collective.
    /// </summary>
    public CheckpointReport CheckpointLocal(long step)
    {
        if (_local is not { Enabled: true })
        {
            throw new CoordinatedException(
                _local is null ? "a local checkpoint needs --checkpoint-local-dir" : $"the local level in {_options.LocalDirectory} is off (see the warning above)",
                ExitCodes.CheckpointFailed, isCollective: true);
        }

        _state.GatherRows();
        var report = Report(_local.Write(_state.Capture(RestartCount), step, Trigger.Request, 0, stageSeconds: null), out string? failure);
        _agreement.CheckpointTaken();
        return report ?? throw new CoordinatedException($"local checkpoint of step {step} failed: {failure}", ExitCodes.CheckpointFailed, isCollective: true);
    }

    /// <summary>
    /// Writes the registered state in the snapshot layout to <paramref name="path"/> (e.g. the final output),
    /// atomically, with the same commit protocol as a checkpoint. Collective.
    /// </summary>
    public void WriteOutput(string path, long step)
    {
        WaitForPending(); // HDF5 is not thread-safe: no second writer while the I/O thread works
        _state.GatherRows();
        if (CommitProtocol.WriteFile(_comm, _state.Capture(RestartCount), path, step) is string error)
        {
            throw new CoordinatedException($"writing output {Path.GetFullPath(path)} failed: {error}", ExitCodes.Failure, isCollective: true);
        }
    }

    /// <summary>Prints a runtime message on rank 0's stdout (not with --quiet). Local; other ranks print nothing.</summary>
    public void Log(string message) => _log.Info(message);

    /// <summary>A global checkpoint (with <paramref name="alsoLocal"/> and a local level: the K-th one, written to the local level first).</summary>
    private CheckpointReport? TryCheckpoint(long step, Trigger trigger, double agreeSeconds, out string? failure, bool alsoLocal = false)
    {
        WaitForPending(); // an asynchronous write still in flight is committed first: snapshots commit in step order
        _state.GatherRows();
        if (alsoLocal && _local is { Enabled: true })
        {
            WriteLocal(_state.Capture(RestartCount), step, trigger, agreeSeconds, stageSeconds: null); // the K-th checkpoint: local, then global
        }

        var outcome = _protocol.CommitSnapshot(_comm, _state.Capture(RestartCount), step, trigger, agreeSeconds, stageSeconds: null);
        _agreement.CheckpointTaken();
        return Report(outcome, out failure);
    }

    /// <summary>
    /// Writes and reports a local (and partner) checkpoint. If it fails (disk full, I/O error) the local level is off
    /// from now on and every checkpoint is global; one warning says so. Collective.
    /// </summary>
    private bool WriteLocal(SnapshotContent content, long step, Trigger trigger, double agreeSeconds, double? stageSeconds)
    {
        if (Report(_local!.Write(content, step, trigger, agreeSeconds, stageSeconds), out string? failure) is not null)
        {
            return true;
        }

        LocalFailed(step, failure);
        return false;
    }

    private void LocalFailed(long step, string? failure) =>
        _log.Warning($"the local checkpoint of step {step} failed: {failure}. The local level is off for the rest of this run: every checkpoint is global (written to {_directoryPath}). What to do: free space in or fix {_options.LocalDirectory} for the next run.");

    /// <summary>
    /// Waits for the asynchronous checkpoint in flight, if any, and reports it like a synchronous one. With
    /// <paramref name="atExit"/> (a stop, the end of the run) says so when a global drain is still running.
    /// </summary>
    private void WaitForPending(bool atExit = false)
    {
        if (atExit && _async is { Running: true })
        {
            _log.Info($"global drain of step {_drainStep} still running at exit; waiting for it to commit");
        }

        if (_async?.Wait() is CommitOutcome outcome && Report(outcome, out string? failure) is null)
        {
            OnPeriodicFailure($"asynchronous checkpoint of step {outcome.Step} failed", failure);
        }
    }

    /// <summary>Reports a finished write-and-commit; on success it becomes <see cref="LastCheckpoint"/>. Local.</summary>
    private CheckpointReport? Report(CommitOutcome outcome, out string? failure)
    {
        var report = _reporter.Finish(outcome, _comm.Size, out failure);
        if (report is not null)
        {
            LastCheckpoint = report;
            _lastOnDiskStep = Math.Max(_lastOnDiskStep, report.Step);
            if (outcome.Level == "global")
            {
                _lastGlobalStep = Math.Max(_lastGlobalStep, report.Step);
            }
        }

        return report;
    }

    /// <summary>--on-checkpoint-error: stop with exit 74, or warn and go on.</summary>
    private void OnPeriodicFailure(string what, string? failure)
    {
        if (_options.OnCheckpointError == CheckpointErrorPolicy.Stop && !_disposed)
        {
            throw new CoordinatedException(
                $"{what}: {failure}. Stopping (--on-checkpoint-error stop); the previous snapshot is intact.",
                ExitCodes.CheckpointFailed, isCollective: true);
        }

        _log.Warning($"{what} and was discarded: {failure}. Continuing (--on-checkpoint-error continue); the previous snapshot is intact.");
    }

    /// <summary>Finishes an asynchronous checkpoint in flight and releases the directory lock (rank 0). Not collective.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            WaitForPending(atExit: true); // an asynchronous checkpoint in flight is finished, not abandoned
        }
        finally
        {
            _agreement.Dispose();
            _directory?.Dispose();
        }
    }
}

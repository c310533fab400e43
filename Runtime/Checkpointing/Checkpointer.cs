using System.Diagnostics;
using System.Globalization;
using Coordinated.Mpi;

namespace Coordinated.Checkpointing;

/// <summary>What the app does after <see cref="Checkpointer.AtStepBoundary"/>.</summary>
public enum StepDecision
{
    /// <summary>Go on with the next step.</summary>
    Continue,

    /// <summary>A checkpoint of this step is committed (or the step was already on disk): return <see cref="ExitCodes.Stopped"/>.</summary>
    Stop,
}

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
/// All members are collective (every rank calls them, in the same order) unless stated otherwise.
/// </summary>
public sealed partial class Checkpointer : IDisposable
{
    private readonly Communicator _comm;
    private readonly CheckpointOptions _options;
    private readonly CheckpointDirectory? _directory; // rank 0 only
    private readonly string _directoryPath;
    private readonly List<StateArray> _arrays = [];
    private readonly SortedDictionary<string, object> _parameters = new(StringComparer.Ordinal);
    private readonly List<(string Name, Func<double> Get, Action<double> Set)> _scalars = [];
    private readonly Stopwatch _sinceStart = Stopwatch.StartNew();
    private readonly Stopwatch _sinceCheckpoint = Stopwatch.StartNew();
    private readonly Stopwatch _sinceRequestCheck = Stopwatch.StartNew();
    private readonly HashSet<string> _replaceOnFirstCommit = new(StringComparer.Ordinal);
    private readonly IntervalPolicy _interval;
    private readonly MetricsLog? _metrics;
    private long _lastOnDiskStep = -1;
    private Communicator? _ioComm;   // --checkpoint-async: the I/O thread's own communicator
    private byte[]?[]? _staging;     // --checkpoint-async: one reusable copy of each array
    private Thread? _io;
    private CommitOutcome? _ioOutcome;
    private Exception? _ioError;
    private bool _restored;
    private bool _disposed;

    private Checkpointer(Communicator comm, string app, CheckpointOptions options, CheckpointDirectory? directory, string directoryPath)
    {
        _comm = comm;
        App = app;
        _options = options;
        _directory = directory;
        _directoryPath = directoryPath;
        _interval = new IntervalPolicy(options);
        _metrics = comm.IsRoot ? new MetricsLog(Path.Combine(directoryPath, "metrics.jsonl")) : null;
        RestartCount = ReadSlurmRestartCount() ?? 0;
    }

    /// <summary>App name stored in every snapshot; a snapshot of another app is never loaded.</summary>
    public string App { get; }

    /// <summary>This rank.</summary>
    public int Rank => _comm.Rank;

    /// <summary>Number of ranks.</summary>
    public int Ranks => _comm.Size;

    /// <summary>0 for a first run; n for the n-th resume (SLURM_RESTART_COUNT inside a requeued Slurm job).</summary>
    public int RestartCount { get; private set; }

    /// <summary>The last committed checkpoint of this run, if any. Same on all ranks.</summary>
    public CheckpointReport? LastCheckpoint { get; private set; }

    /// <summary>Seconds since this checkpointer was created (rank-local clock).</summary>
    public double ElapsedSeconds => _sinceStart.Elapsed.TotalSeconds;

    /// <summary>
    /// Opens the checkpoint directory (created if missing; must be writable; locked against a second run) and removes
    /// leftovers of a killed run. Collective. Fails with exit 73 if the directory cannot be used.
    /// </summary>
    public static Checkpointer Create(Communicator comm, string app, CheckpointOptions options)
    {
        ArgumentNullException.ThrowIfNull(comm);
        ArgumentException.ThrowIfNullOrWhiteSpace(app);
        ArgumentNullException.ThrowIfNull(options);
        _ = IoTuning.Default; // a bad COORDINATED_IO is a usage error before anything starts (same on every rank)

        CheckpointDirectory? directory = null;
        string? error = null;
        int exitCode = ExitCodes.CannotUseDirectory;
        List<string> removed = [];
        if (comm.IsRoot)
        {
            try
            {
                directory = CheckpointDirectory.Open(options.Directory, app);
                removed = directory.RemoveLeftovers();
            }
            catch (CoordinatedException e)
            {
                error = e.Message;
                exitCode = e.ExitCode;
            }
        }

        error = comm.Broadcast(error, 0);
        if (error is not null)
        {
            throw new CoordinatedException(error, exitCode, isCollective: true);
        }

        string path = comm.Broadcast(comm.IsRoot ? directory!.Path : null, 0)!;
        var checkpointer = new Checkpointer(comm, app, options, directory, path);
        foreach (string name in removed)
        {
            checkpointer.Log($"removed {name}, left by a run that was killed while writing it");
        }

        if (options.AutoInterval && checkpointer._interval.CurrentIntervalSeconds is double first)
        {
            checkpointer.Log($"auto interval: {checkpointer._interval.Explain()}; first checkpoint in {first.ToString("F1", CultureInfo.InvariantCulture)} s, then updated from each measured cost");
        }

        int restarts = checkpointer.RestartCount;
        if (restarts > options.MaxRequeues)
        {
            checkpointer.Dispose();
            throw new CoordinatedException(
                $"this job was requeued {restarts} times, more than --max-requeues {options.MaxRequeues}; not resuming. " +
                "What to do: look at the job's output for why it keeps stopping, then resubmit it (or raise --max-requeues).",
                ExitCodes.RequeueLimit, isCollective: true);
        }

        if (options.Async)
        {
            if (!MpiEnvironment.ThreadMultiple)
            {
                checkpointer.Dispose();
                throw new CoordinatedException(
                    "--checkpoint-async needs MPI_THREAD_MULTIPLE, which this MPI library did not grant " +
                    "(apps started through CoordinatedApp.Run ask for it). What to do: run without --checkpoint-async.",
                    ExitCodes.Usage, isCollective: true);
            }

            checkpointer._ioComm = comm.Duplicate();
        }

        return checkpointer;
    }

    /// <summary>
    /// Declares an app parameter that every snapshot records and that must be equal on restart
    /// (a snapshot with another value is refused). Local: call with the same values on every rank.
    /// </summary>
    public void AddParameter(string name, long value) => _parameters[ValidName(name)] = value;

    /// <inheritdoc cref="AddParameter(string, long)"/>
    public void AddParameter(string name, double value) => _parameters[ValidName(name)] = value;

    /// <inheritdoc cref="AddParameter(string, long)"/>
    public void AddParameter(string name, string value) => _parameters[ValidName(name)] = value;

    /// <summary>
    /// Registers a scalar of the simulation (e.g. the simulated time) saved with every snapshot and restored by
    /// <see cref="Restore"/> through <paramref name="set"/>. Local: register the same scalars on every rank.
    /// </summary>
    public void RegisterScalar(string name, Func<double> get, Action<double> set) => _scalars.Add((ValidName(name), get, set));

    /// <summary>
    /// Registers this rank's slice of a global array saved as <c>/state/NAME</c> with shape [globalCount, components].
    /// <paramref name="local"/> holds elements [globalOffset, globalOffset + local.Length / components), stored
    /// row-major. The slices of all ranks must tile the global array exactly. Collective.
    /// </summary>
    /// <typeparam name="T">double, float, long, int or byte.</typeparam>
    public void Register<T>(string name, Memory<T> local, long globalOffset, long globalCount, int components = 1)
        where T : unmanaged
    {
        ValidName(name);
        if (!StateArray<T>.IsSupported)
        {
            throw new ArgumentException($"state '{name}': element type {typeof(T).Name} is not supported (use double, float, long, int or byte).");
        }

        if (components < 1 || local.Length % components != 0)
        {
            throw new ArgumentException($"state '{name}': {local.Length} values are not a whole number of {components}-component elements.");
        }

        if (globalCount < 1 || globalOffset < 0 || globalOffset + (local.Length / components) > globalCount)
        {
            throw new ArgumentException($"state '{name}': slice [{globalOffset}, {globalOffset + (local.Length / components)}) does not fit a global array of {globalCount} elements.");
        }

        if (_arrays.Any(a => a.Name == name))
        {
            throw new ArgumentException($"state '{name}' is registered twice.");
        }

        var array = new StateArray<T>(name, local, components, globalOffset, globalCount);
        var partition = _comm.Allgather((array.GlobalOffset, array.LocalCount));
        long expected = 0;
        foreach (var (offset, count) in partition.OrderBy(p => p.Item1))
        {
            if (count == 0)
            {
                continue;
            }

            if (offset != expected)
            {
                throw new CoordinatedException(
                    $"state '{name}': the ranks' slices do not tile [0, {globalCount}) (gap or overlap at element {expected}); this is a bug in the app's partitioning.",
                    ExitCodes.Failure, isCollective: true);
            }

            expected = offset + count;
        }

        if (expected != globalCount)
        {
            throw new CoordinatedException(
                $"state '{name}': the ranks' slices cover {expected} of {globalCount} elements; this is a bug in the app's partitioning.",
                ExitCodes.Failure, isCollective: true);
        }

        array.Partition = partition;
        _arrays.Add(array);
    }

    /// <inheritdoc cref="Register{T}(string, Memory{T}, long, long, int)"/>
    public void Register<T>(string name, T[] local, long globalOffset, long globalCount, int components = 1) where T : unmanaged =>
        Register(name, local.AsMemory(), globalOffset, globalCount, components);

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
        var notes = new List<string>();
        List<(long Step, string Name)> committed = _comm.IsRoot ? _directory!.ListCommitted(notes) : [];
        if (_comm.IsRoot)
        {
            string? latest = _directory!.ReadLatest();
            if (latest is not null && committed.Count > 0 && latest != committed[0].Name)
            {
                notes.Add(committed.Any(c => c.Name == latest)
                    ? $"'latest' names {latest} but {committed[0].Name} is newer and committed; using the newest"
                    : $"'latest' names {latest}, which does not exist; ignoring it");
            }
        }

        foreach (string note in notes)
        {
            Log(note);
        }

        string[] names = (_comm.Broadcast(string.Join('\n', committed.Select(c => c.Name)), 0) ?? "")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);

        if (_options.Fresh)
        {
            if (_comm.IsRoot)
            {
                _replaceOnFirstCommit.UnionWith(names);
            }

            if (names.Length > 0)
            {
                Log($"--fresh: starting at step 0; the {names.Length} existing snapshot(s) in {_directoryPath} will be removed when the first new one is committed");
            }

            _lastOnDiskStep = -1;
            ThrowIfStoppedDuringStartup(0);
            return 0;
        }

        var skipped = new List<string>();
        foreach (string name in names)
        {
            var stopwatch = Stopwatch.StartNew();
            var outcome = SnapshotIo.TryRead(_comm, Path.Combine(_directoryPath, name), this);
            if (outcome.Error is null)
            {
                int storedRestarts = (int)outcome.RestartCount;
                RestartCount = ReadSlurmRestartCount() ?? (storedRestarts + 1);
                _lastOnDiskStep = outcome.Step;
                double seconds = stopwatch.Elapsed.TotalSeconds;
                Log($"resumed from step {outcome.Step} (restart {RestartCount}) from {name}, written by {outcome.WriterRanks} rank(s): " +
                    $"{FormatBytes(outcome.Bytes)} read and verified in {seconds:F3} s");
                _metrics?.Append(new Dictionary<string, object?>
                {
                    ["event"] = "restart",
                    ["time_utc"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
                    ["app"] = App,
                    ["step"] = outcome.Step,
                    ["restart_count"] = RestartCount,
                    ["ranks"] = _comm.Size,
                    ["writer_ranks"] = outcome.WriterRanks,
                    ["bytes"] = outcome.Bytes,
                    ["read_s"] = outcome.ReadSeconds,
                    ["verify_s"] = outcome.VerifySeconds,
                    ["total_s"] = seconds,
                    ["file"] = name,
                    ["skipped"] = skipped.ToArray(),
                });
                _sinceCheckpoint.Restart();
                ThrowIfStoppedDuringStartup(outcome.Step);
                return outcome.Step;
            }

            skipped.Add($"{name}: {outcome.Error}");
            LogWarning($"skipping {name}: {outcome.Error}");
        }

        if (names.Length > 0)
        {
            throw new CoordinatedException(
                $"no usable snapshot in {_directoryPath}; none was changed:\n  " + string.Join("\n  ", skipped) +
                "\nWhat to do: if these are from another run or app, point --checkpoint-dir elsewhere; to discard them and start over, add --fresh.",
                ExitCodes.DataError, isCollective: true);
        }

        RestartCount = 0;
        ThrowIfStoppedDuringStartup(0);
        return 0;
    }

    /// <summary>A stop signal that arrived while starting or restoring ends the run here: nothing new to save.</summary>
    private void ThrowIfStoppedDuringStartup(long step)
    {
        if (_comm.Allreduce(StopSignals.Requested ? 1 : 0, ReduceOp.Max) == 0)
        {
            return;
        }

        string state = _lastOnDiskStep >= 0 ? $"step {step} is already committed" : "nothing was computed yet";
        Log($"stopping at step {step} (signal during start-up); {state}; rerun the same command to resume");
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
        if (_io is { IsAlive: false } && _ioError is null && _ioOutcome?.Failure is null)
        {
            // A finished asynchronous checkpoint is reported as soon as it is noticed. Only successes are taken
            // here, rank by rank: a failure may stop the run, so it waits for the next collective point.
            WaitForPending();
        }

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
        double agreeSeconds = agree.Elapsed.TotalSeconds;
        var stop = (Trigger)votes[0];
        var checkpoint = (Trigger)votes[1];

        if (stop != Trigger.None)
        {
            WaitForPending();
            if (step == _lastOnDiskStep)
            {
                Log($"stopping at step {step} ({Describe(stop)}); step {step} is already committed");
                return StepDecision.Stop;
            }

            var report = TryCheckpoint(step, stop, agreeSeconds, out string? failure);
            if (report is null)
            {
                throw new CoordinatedException(
                    $"asked to stop ({Describe(stop)}) but the checkpoint of step {step} failed: {failure}. " +
                    $"The previous snapshot{(_lastOnDiskStep >= 0 ? $" (step {_lastOnDiskStep})" : "")} is intact. What to do: free space or fix {_directoryPath}, then rerun the same command.",
                    ExitCodes.CheckpointFailed, isCollective: true);
            }

            Log($"stopping after checkpoint of step {step} ({Describe(stop)}); rerun the same command to resume");
            return StepDecision.Stop;
        }

        if (checkpoint != Trigger.None && step != _lastOnDiskStep && _ioComm is not null)
        {
            StartAsync(step, checkpoint, agreeSeconds);
        }
        else if (checkpoint != Trigger.None && step != _lastOnDiskStep)
        {
            var report = TryCheckpoint(step, checkpoint, agreeSeconds, out string? failure);
            if (report is null)
            {
                if (_options.OnCheckpointError == CheckpointErrorPolicy.Stop)
                {
                    throw new CoordinatedException(
                        $"checkpoint of step {step} failed: {failure}. Stopping (--on-checkpoint-error stop); the previous snapshot is intact.",
                        ExitCodes.CheckpointFailed, isCollective: true);
                }

                LogWarning($"checkpoint of step {step} failed and was discarded: {failure}. Continuing (--on-checkpoint-error continue); the previous snapshot is intact.");
            }
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
        WaitForPending();
        if (step == _lastOnDiskStep)
        {
            return;
        }

        if (TryCheckpoint(step, Trigger.Final, 0, out string? failure) is null)
        {
            LogWarning($"the final checkpoint of step {step} failed: {failure}. The results are complete; only a later continuation would have to recompute from the previous snapshot.");
        }
    }

    /// <summary>Checkpoint now, whatever the triggers say (e.g. at the end of a phase). Collective.</summary>
    public CheckpointReport Checkpoint(long step)
    {
        return TryCheckpoint(step, Trigger.Request, 0, out string? failure)
            ?? throw new CoordinatedException($"checkpoint of step {step} failed: {failure}", ExitCodes.CheckpointFailed, isCollective: true);
    }

    /// <summary>
    /// Writes the registered state in the snapshot layout to <paramref name="path"/> (e.g. the final output),
    /// atomically: a temporary file is flushed, then renamed. Collective.
    /// </summary>
    public void WriteOutput(string path, long step)
    {
        WaitForPending(); // HDF5 is not thread-safe: no second writer while the I/O thread works
        string full = Path.GetFullPath(path);
        string temporary = Path.Combine(Path.GetDirectoryName(full)!, "." + Path.GetFileName(full) + ".partial");
        string? error = null;
        if (_comm.IsRoot)
        {
            try
            {
                Directory.CreateDirectory(Path.GetDirectoryName(full)!);
                File.Delete(temporary);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                error = e.Message;
            }
        }

        error = _comm.Broadcast(error, 0);
        if (error is null)
        {
            var content = Content(_arrays, _parameters);
            error = SnapshotIo.Write(_comm, temporary, content, step, "output", out _);
        }

        if (error is null && _comm.IsRoot)
        {
            try
            {
                File.Move(temporary, full, overwrite: true);
                CheckpointDirectory.FlushDirectory(Path.GetDirectoryName(full)!);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                error = e.Message;
            }
        }

        error = _comm.Broadcast(error, 0);
        if (error is not null)
        {
            if (_comm.IsRoot)
            {
                File.Delete(temporary);
            }

            throw new CoordinatedException($"writing output {full} failed: {error}", ExitCodes.Failure, isCollective: true);
        }
    }

    /// <summary>Prints a runtime message on rank 0's stdout (not with --quiet). Local; other ranks print nothing.</summary>
    public void Log(string message)
    {
        if (_comm.IsRoot && !_options.Quiet)
        {
            Console.Out.WriteLine($"[coordinated] {message}");
            Console.Out.Flush();
        }
    }

    private void LogWarning(string message)
    {
        if (_comm.IsRoot)
        {
            Console.Error.WriteLine($"[coordinated] warning: {message}");
            Console.Error.Flush();
        }
    }

    internal IReadOnlyList<StateArray> Arrays => _arrays;

    internal IReadOnlyDictionary<string, object> Parameters => _parameters;

    internal IReadOnlyList<(string Name, Func<double> Get, Action<double> Set)> Scalars => _scalars;

    private void RootVotes(Span<int> votes)
    {
        double elapsed = _sinceStart.Elapsed.TotalSeconds;
        if (_options.MaxRuntimeSeconds > 0 && elapsed >= _options.MaxRuntimeSeconds)
        {
            votes[0] = Math.Max(votes[0], (int)Trigger.MaxRuntime);
        }

        if (Walltime.ShouldStop(_options.WalltimeReserveSeconds))
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

        double? interval = _interval.CurrentIntervalSeconds;
        if (interval is double seconds && _sinceCheckpoint.Elapsed.TotalSeconds >= seconds)
        {
            votes[1] = Math.Max(votes[1], (int)(_options.AutoInterval ? Trigger.Auto : Trigger.EverySeconds));
        }
    }

    private CheckpointReport? TryCheckpoint(long step, Trigger trigger, double agreeSeconds, out string? failure)
    {
        WaitForPending(); // an asynchronous write still in flight is committed first: snapshots commit in step order
        var content = Content(_arrays, _parameters);
        var outcome = WriteAndCommit(_comm, content, step, trigger, agreeSeconds, stageSeconds: null);
        _sinceCheckpoint.Restart();
        return Finish(outcome, out failure);
    }

    /// <summary>What a snapshot of now holds: <paramref name="arrays"/> and the scalars' current values.</summary>
    private SnapshotIo.SnapshotContent Content(IReadOnlyList<StateArray> arrays, IReadOnlyDictionary<string, object> parameters) =>
        new(App, RestartCount, arrays, parameters, [.. _scalars.Select(s => (s.Name, s.Get()))]);

    /// <summary>
    /// Starts an asynchronous checkpoint: copies the state (and the scalars' current values) into staging buffers
    /// and hands them to an I/O thread that writes and commits them over <see cref="_ioComm"/> with exactly the
    /// synchronous protocol. At most one is in flight. Collective.
    /// </summary>
    private void StartAsync(long step, Trigger trigger, double agreeSeconds)
    {
        WaitForPending();
        var stage = Stopwatch.StartNew();
        _staging ??= new byte[]?[_arrays.Count];
        var staged = new List<StateArray>(_arrays.Count);
        for (int i = 0; i < _arrays.Count; i++)
        {
            staged.Add(_arrays[i].Stage(ref _staging[i]));
        }

        var content = Content(staged, new SortedDictionary<string, object>(_parameters, StringComparer.Ordinal));
        double stageSeconds = stage.Elapsed.TotalSeconds;
        _sinceCheckpoint.Restart();
        var communicator = _ioComm!;
        _io = new Thread(() =>
        {
            try
            {
                _ioOutcome = WriteAndCommit(communicator, content, step, trigger, agreeSeconds, stageSeconds);
            }
            catch (Exception e)
            {
                _ioError = e;
            }
        })
        {
            IsBackground = true,
            Name = "coordinated-io",
        };
        _io.Start();
    }

    /// <summary>Waits for the asynchronous checkpoint in flight, if any, and reports it like a synchronous one.</summary>
    private void WaitForPending()
    {
        if (_io is null)
        {
            return;
        }

        _io.Join();
        _io = null;
        if (_ioError is Exception error)
        {
            _ioError = null;
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        }

        var outcome = _ioOutcome!;
        _ioOutcome = null;
        if (Finish(outcome, out string? failure) is null)
        {
            if (_options.OnCheckpointError == CheckpointErrorPolicy.Stop && !_disposed)
            {
                throw new CoordinatedException(
                    $"asynchronous checkpoint of step {outcome.Step} failed: {failure}. Stopping (--on-checkpoint-error stop); the previous snapshot is intact.",
                    ExitCodes.CheckpointFailed, isCollective: true);
            }

            LogWarning($"asynchronous checkpoint of step {outcome.Step} failed and was discarded: {failure}. Continuing (--on-checkpoint-error continue); the previous snapshot is intact.");
        }
    }

    /// <summary>What one write-and-commit did; turned into a report (and log lines, metrics) by <see cref="Finish"/>.</summary>
    private sealed record CommitOutcome(
        long Step, Trigger Trigger, string? Failure, SnapshotIo.WriteTimings Timings, double AgreeSeconds, double? StageSeconds,
        double CommitSeconds, double TotalSeconds, List<string> Removed);

    /// <summary>
    /// The commit protocol: space check, write and flush on every rank, agreement, then rank 0 renames and updates
    /// <c>latest</c>. Touches no state of this object except the directory (rank 0), so it can run on the I/O thread.
    /// Collective over <paramref name="comm"/>.
    /// </summary>
    private CommitOutcome WriteAndCommit(Communicator comm, SnapshotIo.SnapshotContent content, long step, Trigger trigger, double agreeSeconds, double? stageSeconds)
    {
        var total = Stopwatch.StartNew();
        string temporary = Path.Combine(_directoryPath, CheckpointDirectory.TemporaryName(step));

        string? failure = null;
        if (comm.IsRoot)
        {
            try
            {
                _directory!.PrepareTemporary(step);
                failure = SnapshotIo.CheckSpace(_directoryPath, content.Arrays.Sum(a => a.GlobalCount * a.ElementBytes), 2 * content.Arrays.Count);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                failure = e.Message;
            }
        }

        failure = comm.Broadcast(failure, 0);
        SnapshotIo.WriteTimings timings = default;
        failure ??= SnapshotIo.Write(comm, temporary, content, step, TriggerName(trigger), out timings);

        var commit = Stopwatch.StartNew();
        List<string> removed = [];
        if (failure is null && comm.IsRoot)
        {
            try
            {
                removed = _directory!.Commit(step, _options.Keep, _replaceOnFirstCommit);
                _replaceOnFirstCommit.Clear();
                if (_options.Xdmf) XdmfSidecar.AfterCommit(_directoryPath, step, content.Arrays, removed);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                failure = $"commit (rename in {_directoryPath}) failed: {e.Message}";
            }
        }

        if (failure is not null && comm.IsRoot)
        {
            failure += SnapshotIo.DescribeSpace(_directoryPath);
        }

        failure = comm.Broadcast(failure, 0);
        if (failure is not null && comm.IsRoot)
        {
            _directory!.DeleteTemporary(step);
        }

        return new CommitOutcome(step, trigger, failure, timings, agreeSeconds, stageSeconds, commit.Elapsed.TotalSeconds,
            total.Elapsed.TotalSeconds + agreeSeconds + (stageSeconds ?? 0), removed);
    }

    /// <summary>Records, logs and reports a finished write-and-commit. Local (no communication).</summary>
    private CheckpointReport? Finish(CommitOutcome outcome, out string? failure)
    {
        long step = outcome.Step;
        string name = CheckpointDirectory.CommittedName(step);
        failure = outcome.Failure;
        if (failure is not null)
        {
            _metrics?.Append(new Dictionary<string, object?>
            {
                ["event"] = "checkpoint_failed",
                ["time_utc"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
                ["app"] = App,
                ["step"] = step,
                ["trigger"] = TriggerName(outcome.Trigger),
                ["async"] = outcome.StageSeconds is not null,
                ["error"] = failure,
            });
            return null;
        }

        var timings = outcome.Timings;
        var report = new CheckpointReport(
            step, TriggerName(outcome.Trigger), name, timings.Bytes, _comm.Size, outcome.AgreeSeconds, timings.WriteSeconds, timings.FlushSeconds,
            outcome.CommitSeconds, outcome.TotalSeconds)
        {
            StageSeconds = outcome.StageSeconds,
        };
        LastCheckpoint = report;
        _lastOnDiskStep = Math.Max(_lastOnDiskStep, step);
        _interval.Observe(report.TotalSeconds);

        string mode = outcome.StageSeconds is double staged ? $", async: staged in {staged:F4} s, then" : ":";
        Log($"checkpoint step {step} ({report.Trigger}){mode} {FormatBytes(report.Bytes)} in {report.TotalSeconds:F3} s " +
            $"(agree {outcome.AgreeSeconds:F4}, write {timings.WriteSeconds:F3}, flush {timings.FlushSeconds:F3}, commit {outcome.CommitSeconds:F3}) -> {name}" +
            (outcome.Removed.Count > 0 ? $"; removed {string.Join(", ", outcome.Removed)}" : ""));
        if (_options.AutoInterval && _interval.CurrentIntervalSeconds is double next)
        {
            Log($"auto interval: {_interval.Explain()}; next checkpoint in {next:F1} s");
        }

        _metrics?.Append(new Dictionary<string, object?>
        {
            ["event"] = "checkpoint",
            ["time_utc"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
            ["app"] = App,
            ["step"] = step,
            ["trigger"] = report.Trigger,
            ["ranks"] = _comm.Size,
            ["bytes"] = report.Bytes,
            ["agree_s"] = report.AgreeSeconds,
            ["stage_s"] = report.StageSeconds,
            ["write_s"] = report.WriteSeconds,
            ["flush_s"] = report.FlushSeconds,
            ["commit_s"] = report.CommitSeconds,
            ["total_s"] = report.TotalSeconds,
            ["file"] = name,
            ["interval_s"] = _interval.CurrentIntervalSeconds,
        });
        return report;
    }

    private static string Describe(Trigger trigger) => trigger switch
    {
        Trigger.Signal => $"signal {StopSignals.LastSignal ?? "received on another rank"}".Replace("signal signal", "signal", StringComparison.Ordinal),
        Trigger.MaxRuntime => "--max-runtime reached",
        Trigger.Walltime => Walltime.RemainingSeconds is double left
            ? string.Create(CultureInfo.InvariantCulture, $"Slurm time limit near: {left:F0} s left, less than --walltime-reserve")
            : "Slurm time limit near (--walltime-reserve)",
        Trigger.Request => $"'{CheckpointDirectory.StopRequestName}' request file",
        _ => TriggerName(trigger),
    };

    internal static string TriggerName(Trigger trigger) => trigger switch
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

    internal static string FormatBytes(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):F2} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):F1} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:F1} KiB",
        _ => $"{bytes} B",
    };

    private static int? ReadSlurmRestartCount() =>
        int.TryParse(Environment.GetEnvironmentVariable("SLURM_RESTART_COUNT"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) ? n : null;

    private static string ValidName(string name)
    {
        if (string.IsNullOrEmpty(name) || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))
        {
            throw new ArgumentException($"'{name}' is not a valid name (letters, digits, '_', '-', '.').", nameof(name));
        }

        return name;
    }

    /// <summary>Releases the directory lock (rank 0). Not collective.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            WaitForPending(); // an asynchronous checkpoint in flight is finished, not abandoned
        }
        finally
        {
            _directory?.Dispose();
        }
    }
}

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
}

using System.Diagnostics;
using Coordinated.Mpi;

namespace Coordinated.Checkpointing;

/// <summary>
/// Restart: the candidates (committed snapshots, newest first; rank 0 lists them and says where <c>latest</c>
/// disagrees) and the choice among them (the newest that reads back and verifies into the registered state).
/// </summary>
internal static class Recovery
{
    /// <summary>
    /// The checkpoint resumed from; <see cref="Name"/> is null when none was usable or there was none. <see cref="Level"/>
    /// is local, partner or global; <see cref="GlobalStep"/> the step when it is (also) a committed global snapshot;
    /// <see cref="Why"/> the reason for the choice (the <c>restart level:</c> line).
    /// </summary>
    internal sealed record Result(string? Name, SnapshotReader.ReadOutcome? Outcome, double Seconds, IReadOnlyList<string> Skipped)
    {
        internal string Level { get; init; } = "global";

        internal long? GlobalStep { get; init; }

        internal string Why { get; init; } = "";
    }

    /// <summary>Committed snapshot names, newest first, the same on every rank. Notes go to <paramref name="log"/>. Collective.</summary>
    internal static string[] Candidates(Communicator comm, CheckpointDirectory? directory, RuntimeLog log)
    {
        var notes = new List<string>();
        List<(long Step, string Name)> committed = comm.IsRoot ? directory!.ListCommitted(notes) : [];
        if (comm.IsRoot && directory!.ReadLatest() is string latest && committed.Count > 0 && latest != committed[0].Name)
        {
            notes.Add(committed.Any(c => c.Name == latest)
                ? $"'latest' names {latest} but {committed[0].Name} is newer and committed; using the newest"
                : $"'latest' names {latest}, which does not exist; ignoring it");
        }

        foreach (string note in notes)
        {
            log.Info(note);
        }

        return (comm.Broadcast(string.Join('\n', committed.Select(c => c.Name)), 0) ?? "")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>The step of a committed snapshot name (ckpt-STEP.h5), read from the name only. Local.</summary>
    internal static long StepOf(string name) =>
        long.Parse(name.AsSpan("ckpt-".Length, name.Length - "ckpt-".Length - ".h5".Length), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// The newest complete checkpoint across the levels (docs/MULTILEVEL.md): the local level's newest complete step if
    /// it is at least as new as the newest global snapshot (whose step is read from its name only), else the global
    /// candidates in turn. Prints the <c>restart level:</c> line when something was loaded. Collective.
    /// </summary>
    internal static Result LoadNewestAcrossLevels(Communicator comm, string directoryPath, string[] names, StateRegistry state, RuntimeLog log, LocalLevel? local, string? localPattern)
    {
        string why = "no local level (--checkpoint-local-dir not given)";
        long newestGlobal = names.Length > 0 ? StepOf(names[0]) : -1;
        if (local is not null)
        {
            var choice = local.Choose(state, newestGlobal, out why, out var warnings);
            warnings.ForEach(log.Warning);
            if (choice is not null)
            {
                var stopwatch = Stopwatch.StartNew();
                string? failure = local.Load(choice, state, out var read);
                if (failure is null)
                {
                    local.Restored(choice.Step);
                    log.Info($"restart level: {choice.Level} step {choice.Step}: {choice.Why}");
                    return new Result($"the {choice.Level} level in {localPattern}", read, stopwatch.Elapsed.TotalSeconds, [])
                    {
                        Level = choice.Level, GlobalStep = newestGlobal == choice.Step ? choice.Step : null, Why = choice.Why,
                    };
                }

                log.Warning($"the local checkpoint of step {choice.Step} could not be loaded: {failure}; using the global level");
                why = $"the local checkpoint of step {choice.Step} could not be loaded";
            }
        }

        var result = LoadNewest(comm, directoryPath, names, state, log);
        if (result.Outcome is { } outcome)
        {
            log.Info($"restart level: global step {outcome.Step}: {why}; resuming from {result.Name}");
        }

        return result with { GlobalStep = result.Outcome?.Step, Why = why };
    }

    /// <summary>Tries each candidate in turn; warns about each one skipped. Collective.</summary>
    internal static Result LoadNewest(Communicator comm, string directoryPath, string[] names, StateRegistry state, RuntimeLog log)
    {
        var skipped = new List<string>();
        foreach (string name in names)
        {
            var stopwatch = Stopwatch.StartNew();
            var outcome = SnapshotReader.TryRead(comm, Path.Combine(directoryPath, name), state);
            if (outcome.Error is null)
            {
                return new Result(name, outcome, stopwatch.Elapsed.TotalSeconds, skipped);
            }

            skipped.Add($"{name}: {outcome.Error}");
            log.Warning($"skipping {name}: {outcome.Error}");
        }

        return new Result(null, null, 0, skipped);
    }
}

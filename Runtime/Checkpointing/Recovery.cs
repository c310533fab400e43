using System.Diagnostics;
using Coordinated.Mpi;

namespace Coordinated.Checkpointing;

/// <summary>
/// Restart: the candidates (committed snapshots, newest first; rank 0 lists them and says where <c>latest</c>
/// disagrees) and the choice among them (the newest that reads back and verifies into the registered state).
/// </summary>
internal static class Recovery
{
    /// <summary>The snapshot resumed from; <see cref="Name"/> is null when none was usable or there was none.</summary>
    internal sealed record Result(string? Name, SnapshotReader.ReadOutcome? Outcome, double Seconds, IReadOnlyList<string> Skipped);

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

using Coordinated.Mpi;

namespace Coordinated.Checkpointing;

/// <summary>
/// The pattern every collective phase of writing or reading a snapshot follows: run the phase locally, catching
/// what it throws, then agree (one allreduce) whether it failed anywhere, so that all ranks go on or give up together.
/// </summary>
internal static class Phases
{
    /// <summary>Runs <paramref name="action"/>; returns what it threw (except out of memory), or null. Local.</summary>
    internal static Exception? Run(Action action)
    {
        try
        {
            action();
            return null;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return e;
        }
    }

    /// <summary>
    /// All ranks learn whether <paramref name="error"/> was null everywhere; if not, the message of the lowest failing
    /// rank. Collective (one allreduce; one broadcast only on failure).
    /// </summary>
    internal static string? Agree(Communicator comm, string? phase, Exception? error)
    {
        int failed = comm.Allreduce(error is null ? comm.Size : comm.Rank, ReduceOp.Min);
        if (failed == comm.Size)
        {
            return null;
        }

        string? message = null;
        if (comm.Rank == failed)
        {
            string where = comm.Size > 1 ? $" (rank {failed})" : "";
            message = phase is null ? error!.Message + where : $"{phase}{where}: {error!.Message}";
        }

        return comm.Broadcast(message, failed);
    }
}

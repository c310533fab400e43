using System.Globalization;

namespace Coordinated.Slurm;

/// <summary>
/// Everything the runtime reads about the enclosing Slurm job, in one place: the job id, the restart count
/// (requeues), the requeue limit check, the step's tasks per node and the job's end time (<see cref="JobEndTime"/>).
/// Outside a job every value is null and nothing here does anything. Slurm's side of requeueing (scontrol requeue,
/// the batch script, signal forwarding) is the launcher's, <c>mpi-run.sh</c>.
/// </summary>
internal static class SlurmJob
{
    /// <summary><c>SLURM_JOB_ID</c>, or null outside a job.</summary>
    internal static string? JobId => Environment.GetEnvironmentVariable("SLURM_JOB_ID") is { Length: > 0 } id ? id : null;

    /// <summary><c>SLURM_RESTART_COUNT</c>: how often Slurm requeued this job; null when not set (first run, or no job).</summary>
    internal static int? RestartCount =>
        int.TryParse(Environment.GetEnvironmentVariable("SLURM_RESTART_COUNT"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) ? n : null;

    /// <summary>
    /// Tasks per node of a step started directly by srun (null under mpirun or outside Slurm): srun does not tell
    /// Open MPI that a node has more ranks than cores.
    /// </summary>
    internal static int? SrunTasksPerNode =>
        Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is null
        && int.TryParse(Environment.GetEnvironmentVariable("SLURM_STEP_NUM_TASKS"), out int tasks)
        && int.TryParse(Environment.GetEnvironmentVariable("SLURM_STEP_NUM_NODES"), out int nodes) && nodes >= 1
            ? (tasks + nodes - 1) / nodes
            : null;

    /// <summary>", Slurm job N" for the directory's owner note, or empty.</summary>
    internal static string OwnerSuffix => JobId is string id ? $", Slurm job {id}" : "";

    /// <summary>The refusal to resume once the job was requeued more than <paramref name="maxRequeues"/> times (exit 76), or null.</summary>
    internal static CoordinatedException? RequeueLimitExceeded(int restarts, int maxRequeues) =>
        restarts <= maxRequeues ? null : new CoordinatedException(
            $"this job was requeued {restarts} times, more than --max-requeues {maxRequeues}; not resuming. " +
            "What to do: look at the job's output for why it keeps stopping, then resubmit it (or raise --max-requeues).",
            ExitCodes.RequeueLimit, isCollective: true);
}

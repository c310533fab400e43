using static Coordinated.Interop.Mpi;

namespace Coordinated.Mpi;

/// <summary>
/// Owns MPI initialisation. <see cref="Initialize"/> once per process; <see cref="Dispose"/> calls MPI_Finalize.
/// </summary>
public sealed unsafe class MpiEnvironment : IDisposable
{
    private static MpiEnvironment? s_current;
    private bool _disposed;

    private MpiEnvironment()
    {
    }

    /// <summary>True when MPI was initialised with MPI_THREAD_MULTIPLE (any thread may call MPI).</summary>
    public static bool ThreadMultiple { get; private set; }

    /// <summary>The initialised environment, if any.</summary>
    public static MpiEnvironment? Current => s_current;

    /// <summary>
    /// Initialises MPI and installs MPI_ERRORS_RETURN on MPI_COMM_WORLD. Collective over all processes started
    /// together. By default only the main thread calls MPI (MPI_THREAD_FUNNELED); with
    /// <paramref name="threadMultiple"/> (asynchronous checkpoints) MPI_THREAD_MULTIPLE is asked for, and
    /// <see cref="ThreadMultiple"/> says whether the library granted it.
    /// </summary>
    public static MpiEnvironment Initialize(bool threadMultiple = false)
    {
        if (s_current is not null)
        {
            return s_current;
        }

        MpiException.ThrowIfError(MPI_Initialized(out int initialized));
        int provided = MPI_THREAD_FUNNELED;
        if (initialized == 0)
        {
            YieldWhenOversubscribedUnderSrun();
            MpiException.ThrowIfError(MPI_Init_thread(null, null, threadMultiple ? MPI_THREAD_MULTIPLE : MPI_THREAD_FUNNELED, out provided));
        }

        ThreadMultiple = provided >= MPI_THREAD_MULTIPLE;

        Communicator.InitializeWorld();
        s_current = new MpiEnvironment();
        return s_current;
    }

    /// <summary>
    /// Ranks started directly by srun are not told that their node has more ranks than cores (mpirun --oversubscribe
    /// tells them), so Open MPI busy-polls and shared cores crawl (NBody ran 100x slower on 4 ranks over 2 cores).
    /// In that case only, and unless the user chose, set OMPI_MCA_mpi_yield_when_idle=1 before MPI_Init reads it.
    /// </summary>
    private static void YieldWhenOversubscribedUnderSrun()
    {
        const string Yield = "OMPI_MCA_mpi_yield_when_idle";
        if (Environment.GetEnvironmentVariable(Yield) is null && Slurm.SlurmJob.SrunTasksPerNode is int perNode && perNode > Environment.ProcessorCount)
        {
            // Environment.SetEnvironmentVariable would not reach the native environ that Open MPI reads.
            _ = Interop.Libc.setenv(Yield, "1", 0);
        }
    }

    /// <summary>The name of the host this rank runs on.</summary>
    public static string ProcessorName
    {
        get
        {
            byte* name = stackalloc byte[MPI_MAX_PROCESSOR_NAME];
            MpiException.ThrowIfError(MPI_Get_processor_name(name, out int length));
            return System.Text.Encoding.UTF8.GetString(name, length);
        }
    }

    /// <summary>Calls MPI_Finalize. Collective.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        s_current = null;
        if (MPI_Finalized(out int finalized) == MPI_SUCCESS && finalized == 0)
        {
            MPI_Finalize();
        }
    }
}

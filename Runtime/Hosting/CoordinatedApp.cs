using System.CommandLine;
using Coordinated.Checkpointing;
using Coordinated.Mpi;

namespace Coordinated.Hosting;

/// <summary>What an app's body receives from <see cref="CoordinatedApp.Run"/>.</summary>
/// <param name="Parse">The parsed command line (read the app's own options from it).</param>
/// <param name="World">MPI_COMM_WORLD.</param>
/// <param name="Checkpoint">The runtime options the user gave.</param>
public sealed record RunContext(ParseResult Parse, Communicator World, CheckpointOptions Checkpoint)
{
    /// <summary>Opens the checkpoint directory for <paramref name="app"/>. Collective.</summary>
    public Checkpointer CreateCheckpointer(string app) => Checkpointer.Create(World, app, Checkpoint);
}

/// <summary>
/// The entry point of a Coordinated app: parses the command line (exit 64 on bad input, --help on rank 0 only),
/// installs the stop-signal handlers before MPI starts, initialises MPI, runs the body, and turns failures into
/// exit codes. An unexpected exception on any rank prints a rank-tagged message and calls MPI_Abort, so one failing
/// rank never leaves the others waiting.
/// </summary>
public static class CoordinatedApp
{
    /// <summary>Runs <paramref name="body"/> on every rank; returns the process exit code.</summary>
    public static int Run(RootCommand command, string[] args, Func<RunContext, int> body)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(body);

        // Before anything slow: a SIGTERM during start-up must not kill the process. These handlers stay until the
        // exit; --stop-signals below only adds or removes signals, never replaces a handler that is still wanted.
        StopSignals.Register(StopSignals.Defaults);
        var runtime = RuntimeCommandLine.AddTo(command);
        command.SetAction(_ => ExitCodes.Success);
        var parse = command.Parse(args);
        bool printer = LaunchRank() == 0;
        if (parse.Errors.Count > 0)
        {
            if (printer)
            {
                Console.Error.WriteLine(OptionParsers.OneLine(parse, args));
            }

            return ExitCodes.Usage;
        }

        if (parse.Action is not null && parse.Action != command.Action)
        {
            // --help or --version.
            return printer ? parse.Invoke() : ExitCodes.Success;
        }

        CheckpointOptions options = runtime.Bind(parse);
        StopSignals.Register(options.StopSignals);

        MpiEnvironment mpi;
        try
        {
            mpi = MpiEnvironment.Initialize(threadMultiple: options.Async);
        }
        catch (DllNotFoundException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return ExitCodes.Failure;
        }

        var world = Communicator.World;
        int exitCode;
        try
        {
            exitCode = body(new RunContext(parse, world, options));
        }
        catch (CoordinatedException e) when (e.IsCollective)
        {
            if (world.IsRoot && e.ExitCode != ExitCodes.Stopped)
            {
                Console.Error.WriteLine($"error: {e.Message}");
            }

            exitCode = e.ExitCode;
        }
        catch (Exception e)
        {
            Console.Out.Flush();
            Console.Error.WriteLine($"[rank {world.Rank} of {world.Size} on {Environment.MachineName}] fatal: {e}");
            Console.Error.WriteLine($"[rank {world.Rank}] aborting all ranks (MPI_Abort) so none is left waiting.");
            Console.Error.Flush();
            world.Abort(e is CoordinatedException ce ? ce.ExitCode : ExitCodes.Failure);
            return ExitCodes.Failure;
        }

        Console.Out.Flush();
        mpi.Dispose();
        return exitCode;
    }

    /// <summary>This process's rank as announced by the launcher (before MPI_Init), or 0.</summary>
    public static int LaunchRank()
    {
        foreach (string name in (string[])["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"])
        {
            if (int.TryParse(Environment.GetEnvironmentVariable(name), out int rank))
            {
                return rank;
            }
        }

        return 0;
    }
}

namespace Coordinated;

/// <summary>
/// An error the runtime explains to the user and turns into an exit code. When <see cref="IsCollective"/> is true
/// every rank raised it at the same point, so the job can end cleanly with <see cref="ExitCode"/> instead of MPI_Abort.
/// </summary>
public class CoordinatedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CoordinatedException(string message, int exitCode, bool isCollective, Exception? inner = null)
        : base(message, inner)
    {
        ExitCode = exitCode;
        IsCollective = isCollective;
    }

    /// <summary>The process exit code this error maps to (see <see cref="ExitCodes"/>).</summary>
    public int ExitCode { get; }

    /// <summary>True when all ranks raise this error together.</summary>
    public bool IsCollective { get; }
}

/// <summary>Bad command-line input (exit 64).</summary>
public sealed class UsageException(string message)
    : CoordinatedException(message, ExitCodes.Usage, isCollective: true);

using Coordinated.Mpi;

namespace Coordinated.Checkpointing;

/// <summary>The runtime's progress lines (<c>[coordinated] ...</c>), printed by rank 0 only. Local.</summary>
internal sealed class RuntimeLog(Communicator comm, bool quiet)
{
    /// <summary>A progress line on stdout (not with --quiet).</summary>
    internal void Info(string message)
    {
        if (comm.IsRoot && !quiet)
        {
            Console.Out.WriteLine($"[coordinated] {message}");
            Console.Out.Flush();
        }
    }

    /// <summary>A warning on stderr (also with --quiet).</summary>
    internal void Warning(string message)
    {
        if (comm.IsRoot)
        {
            Console.Error.WriteLine($"[coordinated] warning: {message}");
            Console.Error.Flush();
        }
    }

    internal static string FormatBytes(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):F2} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):F1} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:F1} KiB",
        _ => $"{bytes} B",
    };
}

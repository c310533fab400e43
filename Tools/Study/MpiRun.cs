using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Coordinated.Study;

/// <summary>
/// The one mpirun command line of the C# code (the study's runs and the tests' jobs; <c>mpi-run.sh</c> has the
/// launcher's own): ranks oversubscribed and unbound, since tests and the study run more ranks than this machine has
/// cores, and the environment every launched process gets.
/// </summary>
internal static partial class MpiRun
{
    /// <summary><c>mpirun --quiet -n R --oversubscribe --bind-to none dotnet DLL ARGS</c>, as an argument vector.</summary>
    public static string[] Command(int ranks, string dll, IEnumerable<string> args) =>
        ["mpirun", "--quiet", "-n", ranks.ToString(CultureInfo.InvariantCulture), "--oversubscribe", "--bind-to", "none", "dotnet", dll, .. args];

    /// <summary>
    /// The same on <paramref name="nodes"/> pseudo-nodes (mpirun MPMD): one app context per node, each with
    /// <c>-x COORDINATED_NODE=NAME</c> and <paramref name="ranks"/> / <paramref name="nodes"/> ranks, so that the
    /// runtime sees that many nodes on one host (ranks of node i are i * ranks / nodes onwards).
    /// </summary>
    public static string[] Command(int ranks, int nodes, Func<int, string> nodeName, string dll, IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(nodeName);
        if (nodes <= 1)
        {
            return Command(ranks, dll, args);
        }

        string perNode = (ranks / nodes).ToString(CultureInfo.InvariantCulture);
        var command = new List<string> { "mpirun", "--quiet", "--oversubscribe", "--bind-to", "none" };
        for (int node = 0; node < nodes; node++)
        {
            if (node > 0)
            {
                command.Add(":");
            }

            command.AddRange(["-n", perNode, "-x", $"COORDINATED_NODE={nodeName(node)}", "dotnet", dll, .. args]);
        }

        return [.. command];
    }

    /// <summary>
    /// Sets what a launched job needs: Open MPI's consent to run as root (only when root), no terminal control
    /// sequences in the output (<c>TERM=dumb</c>) and no .NET telemetry.
    /// </summary>
    public static void SetEnvironment(ProcessStartInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        if (GetUid() == 0)
        {
            info.Environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
            info.Environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
        }

        info.Environment["TERM"] = "dumb";
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
    }

    [LibraryImport("libc", EntryPoint = "getuid")]
    private static partial uint GetUid();
}

using System.Globalization;
using System.Text;
using Coordinated.Mpi;

namespace Coordinated.Checkpointing;

/// <summary>
/// Which node runs which ranks, for the local checkpoint level: the node name of each rank (env
/// <c>COORDINATED_NODE</c> when set, a test hook that simulates several nodes on one host; else
/// MPI_Get_processor_name), nodes ordered by their lowest rank, each node's leader (its lowest rank) and the partner
/// ring (node i keeps a copy of node i - 1's part; its own part is kept by node i + 1).
/// </summary>
internal sealed class NodeLayout
{
    private NodeLayout(string[] names, int[] nodeOfRank, int rank)
    {
        Names = names;
        NodeOfRank = nodeOfRank;
        RanksOfNode = [.. Enumerable.Range(0, names.Length).Select(n => Enumerable.Range(0, nodeOfRank.Length).Where(r => nodeOfRank[r] == n).ToArray())];
        Node = nodeOfRank[rank];
    }

    /// <summary>Node names, by node index (nodes ordered by their lowest rank).</summary>
    internal string[] Names { get; }

    /// <summary>The node index of every rank.</summary>
    internal int[] NodeOfRank { get; }

    /// <summary>The ranks of every node, ascending.</summary>
    internal int[][] RanksOfNode { get; }

    /// <summary>This rank's node.</summary>
    internal int Node { get; }

    internal int Count => Names.Length;

    /// <summary>The leader (lowest rank) of <paramref name="node"/>.</summary>
    internal int Leader(int node) => RanksOfNode[node][0];

    /// <summary>The node that stores <paramref name="node"/>'s partner copy.</summary>
    internal int PartnerOf(int node) => (node + 1) % Count;

    /// <summary>The node whose partner copy <paramref name="node"/> stores.</summary>
    internal int PartnerSourceOf(int node) => (node - 1 + Count) % Count;

    /// <summary>This process's node name: <c>COORDINATED_NODE</c> if set, else the MPI processor name. Local.</summary>
    internal static string LocalName() =>
        Environment.GetEnvironmentVariable("COORDINATED_NODE") is { Length: > 0 } name ? name : MpiEnvironment.ProcessorName;

    /// <summary>Every rank's node name, gathered. Collective.</summary>
    internal static NodeLayout Gather(Communicator comm)
    {
        string[] perRank = StateRegistry.GatherStrings(comm, LocalName());
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var names = new List<string>();
        int[] nodeOfRank = new int[perRank.Length];
        for (int r = 0; r < perRank.Length; r++)
        {
            if (!index.TryGetValue(perRank[r], out int node))
            {
                node = names.Count;
                index[perRank[r]] = node;
                names.Add(perRank[r]);
            }

            nodeOfRank[r] = node;
        }

        return new NodeLayout([.. names], nodeOfRank, comm.Rank);
    }

    /// <summary>Ranks as compact ranges: "0-1_4-5" (<paramref name="separator"/> "_", for file names) or "0-1, 4-5" (for messages).</summary>
    internal static string Ranges(IEnumerable<int> ranks, string separator = ", ")
    {
        var parts = new List<string>();
        int[] sorted = [.. ranks.Distinct().Order()];
        for (int i = 0; i < sorted.Length;)
        {
            int j = i;
            while (j + 1 < sorted.Length && sorted[j + 1] == sorted[j] + 1)
            {
                j++;
            }

            parts.Add(i == j ? sorted[i].ToString(CultureInfo.InvariantCulture) : $"{sorted[i].ToString(CultureInfo.InvariantCulture)}-{sorted[j].ToString(CultureInfo.InvariantCulture)}");
            i = j + 1;
        }

        return string.Join(separator, parts);
    }

    /// <summary>Parses <see cref="Ranges"/> with separator "_"; null if malformed.</summary>
    internal static int[]? ParseRanges(string text)
    {
        var ranks = new List<int>();
        foreach (string part in text.Split('_'))
        {
            string[] ends = part.Split('-');
            if (ends.Length is < 1 or > 2 || !int.TryParse(ends[0], NumberStyles.None, CultureInfo.InvariantCulture, out int a)
                || !int.TryParse(ends[^1], NumberStyles.None, CultureInfo.InvariantCulture, out int b) || b < a || b - a > 1 << 24)
            {
                return null;
            }

            for (int r = a; r <= b; r++)
            {
                ranks.Add(r);
            }
        }

        return [.. ranks];
    }

    /// <summary>Expands <c>%N</c> (node name) and <c>%j</c> (SLURM_JOB_ID or <c>nojob</c>) in a local directory pattern. Local.</summary>
    internal static string Expand(string pattern, string node)
    {
        var text = new StringBuilder();
        for (int i = 0; i < pattern.Length; i++)
        {
            if (pattern[i] == '%' && i + 1 < pattern.Length && pattern[i + 1] is 'N' or 'j' or '%')
            {
                text.Append(pattern[i + 1] switch
                {
                    'N' => node.Replace('/', '_'),
                    'j' => Environment.GetEnvironmentVariable("SLURM_JOB_ID") is { Length: > 0 } job ? job : "nojob",
                    _ => "%",
                });
                i++;
            }
            else
            {
                text.Append(pattern[i]);
            }
        }

        return text.ToString();
    }
}

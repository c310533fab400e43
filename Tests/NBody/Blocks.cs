namespace Coordinated.Tests.NBody;

/// <summary>The runtime's block partition as int pairs, the way the physics code indexes particles.</summary>
internal static class Blocks
{
    internal static (int First, int Count) Of(int n, int ranks, int rank)
    {
        var (first, count) = Coordinated.Partition.Block(n, ranks, rank);
        return ((int)first, (int)count);
    }
}

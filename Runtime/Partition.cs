namespace Coordinated;

/// <summary>Block partitioning of N global elements over ranks.</summary>
public static class Partition
{
    /// <summary>
    /// Rank <paramref name="rank"/>'s contiguous block of <paramref name="count"/> elements over
    /// <paramref name="ranks"/> ranks: the first <c>count % ranks</c> ranks get one element more.
    /// </summary>
    public static (long First, long Count) Block(long count, int ranks, int rank)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfLessThan(ranks, 1);
        if (rank < 0 || rank >= ranks)
        {
            throw new ArgumentOutOfRangeException(nameof(rank), $"rank {rank} is not in [0, {ranks})");
        }

        long baseCount = count / ranks, extra = count % ranks;
        long first = (rank * baseCount) + Math.Min(rank, extra);
        return (first, baseCount + (rank < extra ? 1 : 0));
    }
}

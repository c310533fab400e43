namespace Coordinated.Apps.NBody.Physics;

/// <summary>Splits a range of particles into contiguous per-rank blocks.</summary>
public static class Partition
{
    /// <summary>
    /// The block of <paramref name="count"/> particles owned by <paramref name="rank"/> when
    /// <paramref name="count"/> particles are split over <paramref name="ranks"/> ranks: ranks below
    /// <c>count % ranks</c> get one particle more than the others.
    /// </summary>
    /// <returns>The global index of the first owned particle and the number of owned particles.</returns>
    public static (int First, int Count) Block(int count, int ranks, int rank)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ranks);
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, ranks);

        int baseCount = count / ranks;
        int extra = count % ranks;
        int first = rank * baseCount + Math.Min(rank, extra);
        return (first, baseCount + (rank < extra ? 1 : 0));
    }
}

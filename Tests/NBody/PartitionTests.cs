using Coordinated.Apps.NBody.Physics;
using NUnit.Framework;

namespace Coordinated.Tests.NBody;

public class PartitionTests
{
    [Test]
    public void FirstRanksGetTheRemainder()
    {
        (int, int)[] blocks = [.. Enumerable.Range(0, 4).Select(rank => Partition.Block(10, 4, rank))];
        Assert.That(blocks, Is.EqualTo(new[] { (0, 3), (3, 3), (6, 2), (8, 2) }));
    }

    [Test]
    public void BlocksTileTheRangeInRankOrder()
    {
        foreach (int n in new[] { 0, 1, 2, 7, 100, 1023 })
        {
            foreach (int ranks in new[] { 1, 2, 3, 4, 7, 16 })
            {
                int next = 0;
                for (int rank = 0; rank < ranks; rank++)
                {
                    (int first, int count) = Partition.Block(n, ranks, rank);
                    Assert.That(first, Is.EqualTo(next), $"n={n} ranks={ranks} rank={rank}");
                    Assert.That(count, Is.EqualTo(n / ranks).Or.EqualTo(n / ranks + 1), $"n={n} ranks={ranks} rank={rank}");
                    next += count;
                }

                Assert.That(next, Is.EqualTo(n), $"n={n} ranks={ranks}");
            }
        }
    }

    [Test]
    public void InvalidArgumentsThrow()
    {
        Assert.That(() => Partition.Block(10, 0, 0), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => Partition.Block(10, 3, 3), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => Partition.Block(-1, 3, 0), Throws.InstanceOf<ArgumentOutOfRangeException>());
    }
}

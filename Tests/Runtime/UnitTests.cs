using System.Text;
using Coordinated.Checkpointing;
using Coordinated.Hosting;

namespace Coordinated.Tests.Runtime;

public class Crc32CTests
{
    [Test]
    public void Known_answer_for_123456789() =>
        Assert.That(Crc32C.Compute("123456789"u8), Is.EqualTo(0xE3069283u));

    [Test]
    public void Empty_input_gives_zero() => Assert.That(Crc32C.Compute([]), Is.Zero);

    [Test]
    public void Hardware_and_table_paths_agree_on_every_length()
    {
        var data = new byte[1000];
        new Random(7).NextBytes(data);
        for (int length = 0; length <= data.Length; length += 37)
        {
            Assert.That(Crc32C.AppendSoftware(0, data.AsSpan(0, length)), Is.EqualTo(Crc32C.Compute(data.AsSpan(0, length))), $"length {length}");
        }
    }

    [Test]
    public void Append_continues_a_checksum()
    {
        byte[] all = Encoding.ASCII.GetBytes("The quick brown fox jumps over the lazy dog, twice over.");
        for (int split = 0; split <= all.Length; split += 5)
        {
            uint left = Crc32C.Compute(all.AsSpan(0, split));
            Assert.That(Crc32C.Append(left, all.AsSpan(split)), Is.EqualTo(Crc32C.Compute(all)));
        }
    }

    [Test]
    public void A_single_flipped_bit_changes_the_checksum()
    {
        var data = new byte[4096];
        uint clean = Crc32C.Compute(data);
        data[2049] ^= 0x10;
        Assert.That(Crc32C.Compute(data), Is.Not.EqualTo(clean));
    }

    [Test]
    public void Three_streams_at_once_equal_three_single_computations()
    {
        var random = new Random(7);
        foreach (int length in new[] { 0, 1, 7, 8, 9, 31, 32, 1000, (4 << 20) + 3 })
        {
            var a = new byte[length];
            var b = new byte[length];
            var c = new byte[length];
            random.NextBytes(a);
            random.NextBytes(b);
            random.NextBytes(c);
            var (x, y, z) = Crc32C.Compute3(a, b, c);
            Assert.That((x, y, z), Is.EqualTo((Crc32C.AppendSoftware(0, a), Crc32C.AppendSoftware(0, b), Crc32C.AppendSoftware(0, c))), $"length {length}");
        }

        Assert.Throws<ArgumentException>(() => Crc32C.Compute3(new byte[2], new byte[2], new byte[3]));
    }
}

public class PartitionTests
{
    [TestCase(12, 4, new long[] { 0, 3, 3, 3, 6, 3, 9, 3 })]
    [TestCase(10, 3, new long[] { 0, 4, 4, 3, 7, 3 })]
    [TestCase(2, 3, new long[] { 0, 1, 1, 1, 2, 0 })]
    public void Blocks_tile_the_range(long n, int ranks, long[] expected)
    {
        var actual = Enumerable.Range(0, ranks).SelectMany(r =>
        {
            var (first, count) = Partition.Block(n, ranks, r);
            return new[] { first, count };
        });
        Assert.That(actual, Is.EqualTo(expected));
    }

    [Test]
    public void Rank_outside_the_communicator_is_rejected() =>
        Assert.That(() => Partition.Block(10, 2, 2), Throws.TypeOf<ArgumentOutOfRangeException>());
}

public class IntervalFormulaTests
{
    [Test]
    public void Young_is_sqrt_2CM() => Assert.That(OptimalInterval.Young(2, 3600), Is.EqualTo(120).Within(1e-12));

    [Test]
    public void Daly_matches_the_published_series()
    {
        // C = 10 s, M = 3600 s: sqrt(7200*10)=268.33; x = C/2M = 1/720; 268.33*(1 + sqrt(x)/3 + x/9) - 10.
        double x = 10.0 / 7200;
        double expected = (Math.Sqrt(72000) * (1 + (Math.Sqrt(x) / 3) + (x / 9))) - 10;
        Assert.That(OptimalInterval.Daly(10, 3600), Is.EqualTo(expected).Within(1e-9));
        Assert.That(OptimalInterval.Daly(10, 3600), Is.LessThan(OptimalInterval.Young(10, 3600)));
    }

    [Test]
    public void Daly_is_M_when_the_cost_exceeds_2M() => Assert.That(OptimalInterval.Daly(100, 40), Is.EqualTo(40));

    [Test]
    public void Auto_policy_uses_the_measured_cost()
    {
        var policy = new IntervalPolicy(new CheckpointOptions { AutoInterval = true, MtbfSeconds = 600 });
        Assert.That(policy.CurrentIntervalSeconds, Is.EqualTo(OptimalInterval.Daly(IntervalPolicy.InitialCostGuessSeconds, 600)));
        policy.Observe(0.2);
        policy.Observe(0.4);
        Assert.That(policy.CurrentIntervalSeconds, Is.EqualTo(OptimalInterval.Daly(0.3, 600)).Within(1e-12));
        Assert.That(policy.Explain(), Does.Contain("M = 600 s"));
    }
}

public class DurationTests
{
    [TestCase("600", 600)]
    [TestCase("90s", 90)]
    [TestCase("15m", 900)]
    [TestCase("1.5h", 5400)]
    [TestCase("2d", 172800)]
    public void Parses(string text, double seconds) => Assert.That(OptionParsers.TryParseDuration(text), Is.EqualTo(seconds));

    [TestCase("")]
    [TestCase("ten")]
    [TestCase("5x")]
    [TestCase("NaN")]
    public void Rejects(string text) => Assert.That(OptionParsers.TryParseDuration(text), Is.Null);
}

public class SignalNameTests
{
    [TestCase("TERM", 15)]
    [TestCase("SIGUSR1", 10)]
    [TestCase("usr2", 12)]
    [TestCase("2", 2)]
    public void Parses(string name, int number) => Assert.That(StopSignals.Parse(name), Is.EqualTo(number));

    [Test]
    public void Unknown_is_null() => Assert.That(StopSignals.Parse("KILL"), Is.Null);
}

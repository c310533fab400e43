using Coordinated.Apps.NBody.Physics;
using NUnit.Framework;

namespace Coordinated.Tests.NBody;

/// <summary>Known-answer values from the generators' reference C code (prng.c by Vigna, splitmix64.c).</summary>
public class RandomTests
{
    [Test]
    public void SplitMix64MatchesReferenceOutputForSeedZero()
    {
        var generator = new SplitMix64(0);
        ulong[] actual = [generator.Next(), generator.Next(), generator.Next(), generator.Next()];
        Assert.That(actual, Is.EqualTo(new ulong[]
        {
            0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F, 0xF88BB8A8724C81EC,
        }));
    }

    [Test]
    public void Xoshiro256StarStarMatchesReferenceOutputForState1234()
    {
        var generator = Xoshiro256StarStar.FromState(1, 2, 3, 4);
        ulong[] actual = [.. Enumerable.Range(0, 10).Select(_ => generator.NextUInt64())];
        Assert.That(actual, Is.EqualTo(new ulong[]
        {
            11520, 0, 1509978240, 1215971899390074240, 1216172134540287360,
            607988272756665600, 16172922978634559625, 8476171486693032832,
            10595114339597558777, 2904607092377533576,
        }));
    }

    [Test]
    public void Xoshiro256StarStarIsSeededFromSplitMix64()
    {
        // Reference: s[0..3] = four splitmix64 outputs from x = 42, then xoshiro256** next().
        var generator = new Xoshiro256StarStar(42);
        ulong[] actual = [generator.NextUInt64(), generator.NextUInt64(), generator.NextUInt64()];
        Assert.That(actual, Is.EqualTo(new ulong[] { 0x15780B2E0C2EC716, 0x6104D9866D113A7E, 0xAE17533239E499A1 }));
    }

    [Test]
    public void NextDoubleUsesTheTop53Bits()
    {
        var bits = new Xoshiro256StarStar(42);
        var doubles = new Xoshiro256StarStar(42);
        for (int k = 0; k < 1000; k++)
        {
            ulong raw = bits.NextUInt64();
            double value = doubles.NextDouble();
            Assert.That(value, Is.EqualTo((raw >> 11) / 9007199254740992.0));
            Assert.That(value, Is.GreaterThanOrEqualTo(0.0).And.LessThan(1.0));
        }
    }

    [Test]
    public void AllZeroStateIsRejected() =>
        Assert.That(() => Xoshiro256StarStar.FromState(0, 0, 0, 0), Throws.ArgumentException);
}

namespace Coordinated.Apps.NBody.Physics;

/// <summary>
/// Blackman and Vigna's xoshiro256** generator, seeded from <see cref="SplitMix64"/> as its authors
/// recommend. Only integer operations, so the sequence is the same on every platform.
/// </summary>
internal struct Xoshiro256StarStar
{
    private ulong _s0;
    private ulong _s1;
    private ulong _s2;
    private ulong _s3;

    public Xoshiro256StarStar(ulong seed)
    {
        var seeder = new SplitMix64(seed);
        _s0 = seeder.Next();
        _s1 = seeder.Next();
        _s2 = seeder.Next();
        _s3 = seeder.Next();
    }

    /// <summary>A generator in the given raw state (not all zero), for known-answer tests.</summary>
    internal static Xoshiro256StarStar FromState(ulong s0, ulong s1, ulong s2, ulong s3)
    {
        if ((s0 | s1 | s2 | s3) == 0)
        {
            throw new ArgumentException("The all-zero state is a fixed point of xoshiro256**.");
        }

        return new Xoshiro256StarStar { _s0 = s0, _s1 = s1, _s2 = s2, _s3 = s3 };
    }

    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;

        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);

        return result;
    }

    /// <summary>A double uniformly distributed in [0, 1): the top 53 bits scaled by 2^-53 (exact).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>A double uniformly distributed in [-1, 1), exactly <c>2 * NextDouble() - 1</c>.</summary>
    public double NextSigned() => 2.0 * NextDouble() - 1.0;
}

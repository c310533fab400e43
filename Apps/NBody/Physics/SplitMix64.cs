namespace Coordinated.Apps.NBody.Physics;

/// <summary>
/// Steele, Lea and Flood's SplitMix64 generator (as in Java's <c>SplittableRandom</c>): a 64-bit
/// counter advanced by the golden-ratio increment and passed through a fixed mixing function.
/// Used to seed <see cref="Xoshiro256StarStar"/> and to derive independent per-particle seeds.
/// </summary>
/// <remarks>
/// Written here rather than taken from <see cref="Random"/>, whose algorithm is not guaranteed to
/// stay the same between .NET versions: initial conditions must be reproducible bit for bit.
/// </remarks>
internal struct SplitMix64
{
    private const ulong GoldenGamma = 0x9E3779B97F4A7C15UL;

    private ulong _state;

    public SplitMix64(ulong seed) => _state = seed;

    public ulong Next()
    {
        _state += GoldenGamma;
        return Mix(_state);
    }

    /// <summary>The SplitMix64 output function (a variant of MurmurHash3's 64-bit finaliser).</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

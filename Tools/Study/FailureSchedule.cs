namespace Coordinated.Study;

/// <summary>
/// The injected failures of one trial: times to failure drawn from an exponential distribution with mean M, one per
/// launch (the first for the first run, the next for the restart after it, ...). The exponential is memoryless, so
/// this is a Poisson failure process over the trial's wall time. The sequence depends only on (seed, trial): trial k
/// meets the same failures at every interval, which keeps the comparison between intervals fair (common random numbers).
/// </summary>
/// <remarks>
/// The generator is Marsaglia's xorshift64 with Vigna's multiplicative output (xorshift64*), written here so that
/// a seed gives the same failure times on every .NET version (<see cref="Random"/> does not promise that).
/// </remarks>
internal sealed class FailureSchedule
{
    private ulong _state;

    public FailureSchedule(double mtbfSeconds, long seed, int trial)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(mtbfSeconds);
        MtbfSeconds = mtbfSeconds;
        _state = ((ulong)seed * 0x9E3779B97F4A7C15UL) ^ ((ulong)(trial + 1) * 0xD1B54A32D192ED03UL);
        if (_state == 0)
        {
            _state = 0x2545F4914F6CDD1DUL;
        }

        for (int i = 0; i < 16; i++)
        {
            NextBits(); // nearby seeds start from nearby states; a few rounds separate them
        }
    }

    public double MtbfSeconds { get; }

    /// <summary>The next time to failure (seconds, > 0): -M ln(u) with u uniform in (0, 1].</summary>
    public double Next() => -MtbfSeconds * Math.Log(NextUniform());

    /// <summary>The next uniform draw in (0, 1] (53 random bits).</summary>
    public double NextUniform() => ((NextBits() >> 11) + 1) * (1.0 / (1UL << 53));

    private ulong NextBits()
    {
        _state ^= _state >> 12;
        _state ^= _state << 25;
        _state ^= _state >> 27;
        return _state * 0x2545F4914F6CDD1DUL;
    }
}

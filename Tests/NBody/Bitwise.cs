using NUnit.Framework;

namespace Coordinated.Tests.NBody;

/// <summary>Bit-for-bit comparison of doubles (so that -0.0 differs from 0.0 and NaN payloads count).</summary>
internal static class Bitwise
{
    public static long[] Bits(ReadOnlySpan<double> values)
    {
        long[] bits = new long[values.Length];
        for (int k = 0; k < values.Length; k++)
        {
            bits[k] = BitConverter.DoubleToInt64Bits(values[k]);
        }

        return bits;
    }

    public static void AssertIdentical(ReadOnlySpan<double> actual, ReadOnlySpan<double> expected, string message)
    {
        Assert.That(actual.Length, Is.EqualTo(expected.Length), message);
        for (int k = 0; k < actual.Length; k++)
        {
            if (BitConverter.DoubleToInt64Bits(actual[k]) != BitConverter.DoubleToInt64Bits(expected[k]))
            {
                Assert.Fail($"{message}: element {k} is {actual[k]:R}, expected {expected[k]:R} (bits differ)");
            }
        }
    }
}

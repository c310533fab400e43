using System.Buffers;

namespace Coordinated.Parquet.Format;

/// <summary>
/// The RLE / bit-packing hybrid encoding of Parquet's Encodings.md, used here for definition levels.
/// </summary>
/// <remarks>
/// The output is a sequence of runs. An RLE run is the varint <c>count &lt;&lt; 1</c> followed by the repeated
/// value in <c>ceil(bitWidth / 8)</c> little-endian bytes. A bit-packed run is the varint
/// <c>groups &lt;&lt; 1 | 1</c> followed by <c>groups * 8</c> values of <c>bitWidth</c> bits each, packed from the
/// least significant bit of each byte. Bit-packed runs always hold whole groups of eight, so the encoder only
/// switches to RLE at a group boundary, for a run of at least eight equal values; the last group is padded with
/// zeros, which the reader ignores because it knows how many values to expect.
/// </remarks>
internal static class RleBitPackedHybrid
{
    private const int GroupSize = 8;

    /// <summary>Appends the encoding of <paramref name="values"/> (each below <c>2^bitWidth</c>) to <paramref name="output"/>.</summary>
    public static void Encode(ReadOnlySpan<byte> values, int bitWidth, IBufferWriter<byte> output)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bitWidth, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bitWidth, 8);
        ArgumentNullException.ThrowIfNull(output);
        int limit = 1 << bitWidth;
        foreach (byte v in values)
        {
            if (v >= limit)
            {
                throw new ArgumentOutOfRangeException(nameof(values), v, $"Value does not fit in {bitWidth} bits.");
            }
        }

        int literalStart = 0;
        int i = 0;
        while (i < values.Length)
        {
            if ((i - literalStart) % GroupSize == 0)
            {
                int run = RunLength(values, i);
                if (run >= GroupSize)
                {
                    WriteBitPacked(values[literalStart..i], bitWidth, output);
                    WriteRle(values[i], run, bitWidth, output);
                    i += run;
                    literalStart = i;
                    continue;
                }
            }

            i++;
        }

        WriteBitPacked(values[literalStart..], bitWidth, output);
    }

    private static int RunLength(ReadOnlySpan<byte> values, int start)
    {
        int end = start + 1;
        while (end < values.Length && values[end] == values[start])
        {
            end++;
        }

        return end - start;
    }

    private static void WriteRle(byte value, int count, int bitWidth, IBufferWriter<byte> output)
    {
        WriteVarint((uint)count << 1, output);
        // ceil(bitWidth / 8) bytes; bitWidth is at most 8 here, so exactly one.
        Span<byte> span = output.GetSpan(1);
        span[0] = value;
        output.Advance((bitWidth + 7) / 8);
    }

    private static void WriteBitPacked(ReadOnlySpan<byte> values, int bitWidth, IBufferWriter<byte> output)
    {
        if (values.IsEmpty)
        {
            return;
        }

        int groups = (values.Length + GroupSize - 1) / GroupSize;
        WriteVarint(((uint)groups << 1) | 1, output);
        int byteCount = groups * bitWidth; // eight values of bitWidth bits make bitWidth bytes
        Span<byte> span = output.GetSpan(byteCount)[..byteCount];
        span.Clear();
        int bit = 0;
        foreach (byte v in values)
        {
            for (int b = 0; b < bitWidth; b++, bit++)
            {
                if (((v >> b) & 1) != 0)
                {
                    span[bit >> 3] |= (byte)(1 << (bit & 7));
                }
            }
        }

        output.Advance(byteCount);
    }

    private static void WriteVarint(uint value, IBufferWriter<byte> output)
    {
        Span<byte> span = output.GetSpan(5);
        int i = 0;
        while (value >= 0x80)
        {
            span[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        span[i++] = (byte)value;
        output.Advance(i);
    }
}

using System.Buffers;
using Coordinated.Parquet.Format;
using NUnit.Framework;

namespace Coordinated.Tests.Parquet;

/// <summary>
/// The RLE / bit-packing hybrid of Parquet's Encodings.md. Expected bytes are worked out by hand: an RLE run is
/// varint(count &lt;&lt; 1) and the value in one byte; a bit-packed run is varint(groups &lt;&lt; 1 | 1) and the
/// values packed from the least significant bit.
/// </summary>
[TestFixture]
public sealed class RleBitPackedHybridTests
{
    private static byte[] Encode(byte[] values, int bitWidth = 1)
    {
        var buffer = new ArrayBufferWriter<byte>();
        RleBitPackedHybrid.Encode(values, bitWidth, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    private static byte[] Repeat(byte value, int count) => Enumerable.Repeat(value, count).ToArray();

    [Test]
    public void Empty_WritesNothing() => Assert.That(Encode([]), Is.Empty);

    [Test]
    public void EightEqualValues_AreOneRleRun() =>
        Assert.That(Encode(Repeat(1, 8)), Is.EqualTo(new byte[] { 0x10, 0x01 }));

    [Test]
    public void LongRun_HasMultiByteVarintHeader() =>
        // 100 << 1 = 200 = varint 0xC8 0x01
        Assert.That(Encode(Repeat(1, 100)), Is.EqualTo(new byte[] { 0xC8, 0x01, 0x01 }));

    [Test]
    public void Zeros_AreRleWithZeroValue() =>
        Assert.That(Encode(Repeat(0, 1000)), Is.EqualTo(new byte[] { 0xD0, 0x0F, 0x00 }));

    [Test]
    public void MixedGroup_IsBitPackedLeastSignificantBitFirst() =>
        // values 1,0,1,1,0,0,0,1 set bits 0, 2, 3 and 7: 0b1000_1101
        Assert.That(Encode([1, 0, 1, 1, 0, 0, 0, 1]), Is.EqualTo(new byte[] { 0x03, 0x8D }));

    [Test]
    public void ShortTail_IsPaddedToAGroupOfEight() =>
        Assert.That(Encode([1, 1, 0]), Is.EqualTo(new byte[] { 0x03, 0x03 }));

    [Test]
    public void SevenEqualValues_StayBitPacked() =>
        Assert.That(Encode(Repeat(1, 7)), Is.EqualTo(new byte[] { 0x03, 0x7F }));

    [Test]
    public void LiteralGroupThenRun_SwitchesToRleAtTheGroupBoundary() =>
        Assert.That(Encode([1, 0, 1, 0, 1, 0, 1, 0, .. Repeat(0, 20)]),
            Is.EqualTo(new byte[] { 0x03, 0x55, 0x28, 0x00 }));

    [Test]
    public void RunStartingInsideAGroup_FinishesTheGroupFirst() =>
        // 1 then 20 zeros: the first group (1 and seven zeros) is bit-packed, the other 13 zeros are a run.
        Assert.That(Encode([1, .. Repeat(0, 20)]), Is.EqualTo(new byte[] { 0x03, 0x01, 0x1A, 0x00 }));

    [Test]
    public void RunThenLiterals_ThenRun() =>
        Assert.That(Encode([.. Repeat(1, 10), 0, 1, 0, .. Repeat(1, 16)]),
            // 10 ones: RLE 0x14 0x01; at index 10 (a fresh group) 0,1,0 and then ones: the group 0,1,0,1,1,1,1,1
            // = 0b1111_1010 is bit-packed; the remaining 11 ones are a run (0x16 0x01).
            Is.EqualTo(new byte[] { 0x14, 0x01, 0x03, 0xFA, 0x16, 0x01 }));

    [Test]
    public void ManyLiteralGroups_ShareOneHeader()
    {
        byte[] values = [.. Enumerable.Range(0, 24).Select(i => (byte)(i % 2))];
        Assert.That(Encode(values), Is.EqualTo(new byte[] { 0x07, 0xAA, 0xAA, 0xAA }));
    }

    [Test]
    public void BitWidth3_MatchesTheSpecificationExample() =>
        // Encodings.md: 0..7 bit-packed with width 3 is 10001000 11000110 11111010.
        Assert.That(Encode([0, 1, 2, 3, 4, 5, 6, 7], bitWidth: 3), Is.EqualTo(new byte[] { 0x03, 0x88, 0xC6, 0xFA }));

    [Test]
    public void ValueWiderThanBitWidth_Throws() =>
        Assert.That(() => Encode([0, 2], bitWidth: 1), Throws.InstanceOf<ArgumentOutOfRangeException>());

    [Test]
    public void RandomLevels_DecodeToTheSameValues([Values(1, 2, 7, 8, 9, 63, 64, 65, 1000)] int length)
    {
        var random = new Random(length);
        for (int trial = 0; trial < 20; trial++)
        {
            // Mix of long runs and noise so both kinds of run appear.
            byte[] values = new byte[length];
            int i = 0;
            while (i < length)
            {
                int run = random.Next(2) == 0 ? random.Next(1, 4) : random.Next(8, 40);
                byte v = (byte)random.Next(2);
                for (int k = 0; k < run && i < length; k++, i++)
                {
                    values[i] = run < 4 ? (byte)random.Next(2) : v;
                }
            }

            Assert.That(Decode(Encode(values), length), Is.EqualTo(values), $"trial {trial}");
        }
    }

    /// <summary>A minimal decoder for bit width 1, written from the specification for this test.</summary>
    private static byte[] Decode(byte[] encoded, int count)
    {
        var values = new List<byte>();
        int pos = 0;
        while (values.Count < count)
        {
            uint header = 0;
            int shift = 0;
            byte b;
            do
            {
                b = encoded[pos++];
                header |= (uint)(b & 0x7F) << shift;
                shift += 7;
            }
            while ((b & 0x80) != 0);

            if ((header & 1) == 0)
            {
                byte value = encoded[pos++];
                values.AddRange(Enumerable.Repeat(value, (int)(header >> 1)));
            }
            else
            {
                int n = (int)(header >> 1) * 8;
                for (int k = 0; k < n; k++)
                {
                    values.Add((byte)((encoded[pos + (k >> 3)] >> (k & 7)) & 1));
                }

                pos += n / 8;
            }
        }

        Assert.That(pos, Is.EqualTo(encoded.Length), "trailing bytes");
        return [.. values.Take(count)];
    }
}

using System.Buffers;
using Coordinated.Parquet.Thrift;
using NUnit.Framework;

namespace Coordinated.Tests.Parquet;

/// <summary>Byte sequences worked out by hand from the Thrift compact protocol specification.</summary>
[TestFixture]
public sealed class ThriftCompactWriterTests
{
    private static byte[] Write(Action<ThriftCompactWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        write(new ThriftCompactWriter(buffer));
        return buffer.WrittenSpan.ToArray();
    }

    [TestCase(0UL, new byte[] { 0x00 })]
    [TestCase(1UL, new byte[] { 0x01 })]
    [TestCase(127UL, new byte[] { 0x7F })]
    [TestCase(128UL, new byte[] { 0x80, 0x01 })]
    [TestCase(300UL, new byte[] { 0xAC, 0x02 })] // 300 = 0b10_0101100: 0x2C | 0x80, then 0b10
    [TestCase(16384UL, new byte[] { 0x80, 0x80, 0x01 })]
    [TestCase(ulong.MaxValue, new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 })]
    public void Varint_IsUnsignedLeb128(ulong value, byte[] expected) =>
        Assert.That(Write(w => w.WriteVarint(value)), Is.EqualTo(expected));

    [TestCase(0, 0U)]
    [TestCase(-1, 1U)]
    [TestCase(1, 2U)]
    [TestCase(-2, 3U)]
    [TestCase(2, 4U)]
    [TestCase(int.MaxValue, 0xFFFF_FFFEU)]
    [TestCase(int.MinValue, 0xFFFF_FFFFU)]
    public void ZigZag32_InterleavesSigns(int value, uint expected) =>
        Assert.That(ThriftCompactWriter.ZigZag(value), Is.EqualTo(expected));

    [TestCase(0L, 0UL)]
    [TestCase(-1L, 1UL)]
    [TestCase(1L, 2UL)]
    [TestCase(long.MaxValue, 0xFFFF_FFFF_FFFF_FFFEUL)]
    [TestCase(long.MinValue, 0xFFFF_FFFF_FFFF_FFFFUL)]
    public void ZigZag64_InterleavesSigns(long value, ulong expected) =>
        Assert.That(ThriftCompactWriter.ZigZag(value), Is.EqualTo(expected));

    [Test]
    public void I32_IsZigZagVarint() =>
        Assert.That(Write(w => { w.WriteI32(-150); w.WriteI32(150); }), Is.EqualTo(new byte[] { 0xAB, 0x02, 0xAC, 0x02 }));

    [Test]
    public void I64_ExtremesTakeTenBytes()
    {
        Assert.That(Write(w => w.WriteI64(long.MinValue)),
            Is.EqualTo(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 }));
        Assert.That(Write(w => w.WriteI64(long.MaxValue)),
            Is.EqualTo(new byte[] { 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 }));
    }

    [Test]
    public void FieldHeader_SmallDeltaPacksIdIntoHighNibble()
    {
        byte[] bytes = Write(w =>
        {
            w.WriteStructBegin();
            w.WriteI32Field(1, 5);   // delta 1, type 5 (i32): 0x15; value zigzag 10
            w.WriteI64Field(3, 1);   // delta 2, type 6 (i64): 0x26; value zigzag 2
            w.WriteI32Field(18, 0);  // delta 15, the largest short form: 0xF5
            w.WriteStructEnd();
        });
        Assert.That(bytes, Is.EqualTo(new byte[] { 0x15, 0x0A, 0x26, 0x02, 0xF5, 0x00, 0x00 }));
    }

    [Test]
    public void FieldHeader_DeltaAbove15UsesLongForm()
    {
        byte[] bytes = Write(w =>
        {
            w.WriteStructBegin();
            w.WriteI32Field(1, 0);
            w.WriteI32Field(17, 0); // delta 16: type byte 0x05, then field id 17 as zigzag varint 34 = 0x22
            w.WriteStructEnd();
        });
        Assert.That(bytes, Is.EqualTo(new byte[] { 0x15, 0x00, 0x05, 0x22, 0x00, 0x00 }));
    }

    [Test]
    public void FieldHeader_LargeOrDecreasingIdsUseLongForm()
    {
        byte[] bytes = Write(w =>
        {
            w.WriteStructBegin();
            w.WriteI32Field(5, 0);    // 0x55
            w.WriteI32Field(2, 0);    // going back: 0x05, zigzag(2) = 4
            w.WriteI32Field(300, 0);  // 0x05, zigzag(300) = 600 = 0xD8 0x04
            w.WriteStructEnd();
        });
        Assert.That(bytes, Is.EqualTo(new byte[] { 0x55, 0x00, 0x05, 0x04, 0x00, 0x05, 0xD8, 0x04, 0x00, 0x00 }));
    }

    [Test]
    public void BoolField_CarriesValueInTypeNibble() =>
        Assert.That(Write(w =>
        {
            w.WriteStructBegin();
            w.WriteBoolField(1, true);   // type 1 = BOOLEAN_TRUE
            w.WriteBoolField(2, false);  // type 2 = BOOLEAN_FALSE
            w.WriteStructEnd();
        }), Is.EqualTo(new byte[] { 0x11, 0x12, 0x00 }));

    [Test]
    public void I16Field_IsZigZagVarint() =>
        Assert.That(Write(w => { w.WriteStructBegin(); w.WriteI16Field(7, -3); w.WriteStructEnd(); }),
            Is.EqualTo(new byte[] { 0x74, 0x05, 0x00 }));

    [Test]
    public void NestedStruct_CountsFieldIdsFromZeroAndRestoresTheOuterOnes()
    {
        byte[] bytes = Write(w =>
        {
            w.WriteStructBegin();
            w.WriteI32Field(1, 1);         // 0x15 0x02
            w.WriteStructFieldBegin(3);    // delta 2, type 12: 0x2C
            w.WriteI32Field(1, 2);         // inner ids start again: 0x15 0x04
            w.WriteStructEnd();            // 0x00
            w.WriteI32Field(4, 3);         // outer delta from 3: 0x15 0x06
            w.WriteStructEnd();            // 0x00
        });
        Assert.That(bytes, Is.EqualTo(new byte[] { 0x15, 0x02, 0x2C, 0x15, 0x04, 0x00, 0x15, 0x06, 0x00 }));
    }

    [Test]
    public void EmptyStructField_IsHeaderAndStop() =>
        Assert.That(Write(w => { w.WriteStructBegin(); w.WriteStructFieldBegin(1); w.WriteStructEnd(); w.WriteStructEnd(); }),
            Is.EqualTo(new byte[] { 0x1C, 0x00, 0x00 }));

    [TestCase(5, 0, new byte[] { 0x05 })]                 // i32
    [TestCase(5, 3, new byte[] { 0x35 })]
    [TestCase(8, 14, new byte[] { 0xE8 })]                // binary
    [TestCase(12, 15, new byte[] { 0xFC, 0x0F })]         // struct, count 15 no longer fits
    [TestCase(12, 300, new byte[] { 0xFC, 0xAC, 0x02 })]
    public void ListHeader_PacksSmallCountsIntoHighNibble(int elementType, int count, byte[] expected) =>
        Assert.That(Write(w => w.WriteListBegin((ThriftType)elementType, count)), Is.EqualTo(expected));

    [Test]
    public void ListField_IsFieldHeaderThenListHeaderThenElements() =>
        Assert.That(Write(w =>
        {
            w.WriteStructBegin();
            w.WriteListFieldBegin(2, ThriftType.I32, 2); // 0x29 (delta 2, type 9 = list), 0x25
            w.WriteI32(0);
            w.WriteI32(3);
            w.WriteStructEnd();
        }), Is.EqualTo(new byte[] { 0x29, 0x25, 0x00, 0x06, 0x00 }));

    [Test]
    public void Binary_IsVarintLengthThenBytes()
    {
        Assert.That(Write(w => w.WriteBinary("abc"u8)), Is.EqualTo(new byte[] { 0x03, 0x61, 0x62, 0x63 }));
        Assert.That(Write(w => w.WriteBinary([])), Is.EqualTo(new byte[] { 0x00 }));
    }

    [Test]
    public void String_IsUtf8Binary()
    {
        Assert.That(Write(w => w.WriteString("é")), Is.EqualTo(new byte[] { 0x02, 0xC3, 0xA9 }));
        Assert.That(Write(w => w.WriteString(new string('x', 200)))[..2], Is.EqualTo(new byte[] { 0xC8, 0x01 }));
    }

    [Test]
    public void StringField_IsBinaryTyped() =>
        Assert.That(Write(w => { w.WriteStructBegin(); w.WriteStringField(4, "ab"); w.WriteStructEnd(); }),
            Is.EqualTo(new byte[] { 0x48, 0x02, 0x61, 0x62, 0x00 }));

    [Test]
    public void Double_IsEightBytesLittleEndian() =>
        Assert.That(Write(w => w.WriteDouble(1.0)), Is.EqualTo(new byte[] { 0, 0, 0, 0, 0, 0, 0xF0, 0x3F }));

    [Test]
    public void StructEnd_WithoutBegin_Throws() =>
        Assert.That(() => Write(w => w.WriteStructEnd()), Throws.InvalidOperationException);
}

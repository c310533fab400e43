using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Coordinated.Parquet.Thrift;

/// <summary>Element and field type codes of the Thrift compact protocol.</summary>
internal enum ThriftType : byte
{
    BooleanTrue = 1,
    BooleanFalse = 2,
    Byte = 3,
    I16 = 4,
    I32 = 5,
    I64 = 6,
    Double = 7,
    Binary = 8,
    List = 9,
    Set = 10,
    Map = 11,
    Struct = 12,
}

/// <summary>
/// Writes values in the Thrift compact protocol: unsigned LEB128 varints, zigzag-encoded signed integers,
/// field headers as deltas from the previous field id of the same struct, and list headers with the element
/// count packed into the type byte when it is below 15.
/// </summary>
/// <remarks>Only what the Parquet footer and page headers need; maps, sets and boolean list elements are absent.</remarks>
internal sealed class ThriftCompactWriter
{
    private readonly IBufferWriter<byte> _output;
    private readonly Stack<short> _enclosingFieldIds = new();
    private short _lastFieldId;

    public ThriftCompactWriter(IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        _output = output;
    }

    /// <summary>Starts a struct: field ids inside it are counted from zero again.</summary>
    public void WriteStructBegin()
    {
        _enclosingFieldIds.Push(_lastFieldId);
        _lastFieldId = 0;
    }

    /// <summary>Ends a struct with the stop byte and returns to the enclosing struct's field ids.</summary>
    public void WriteStructEnd()
    {
        WriteByte(0);
        _lastFieldId = _enclosingFieldIds.Count > 0
            ? _enclosingFieldIds.Pop()
            : throw new InvalidOperationException("WriteStructEnd without a matching WriteStructBegin.");
    }

    /// <summary>
    /// Writes a field header: one byte <c>delta &lt;&lt; 4 | type</c> when the id is 1 to 15 above the previous
    /// field's, otherwise the type byte followed by the id as a zigzag varint.
    /// </summary>
    public void WriteFieldHeader(short fieldId, ThriftType type)
    {
        int delta = fieldId - _lastFieldId;
        if (delta is > 0 and <= 15)
        {
            WriteByte((byte)((delta << 4) | (byte)type));
        }
        else
        {
            WriteByte((byte)type);
            WriteVarint(ZigZag(fieldId));
        }

        _lastFieldId = fieldId;
    }

    /// <summary>Writes a bool field; compact protocol carries the value in the header's type nibble.</summary>
    public void WriteBoolField(short fieldId, bool value) =>
        WriteFieldHeader(fieldId, value ? ThriftType.BooleanTrue : ThriftType.BooleanFalse);

    public void WriteI16Field(short fieldId, short value)
    {
        WriteFieldHeader(fieldId, ThriftType.I16);
        WriteI32(value);
    }

    public void WriteI32Field(short fieldId, int value)
    {
        WriteFieldHeader(fieldId, ThriftType.I32);
        WriteI32(value);
    }

    public void WriteI64Field(short fieldId, long value)
    {
        WriteFieldHeader(fieldId, ThriftType.I64);
        WriteI64(value);
    }

    public void WriteBinaryField(short fieldId, ReadOnlySpan<byte> value)
    {
        WriteFieldHeader(fieldId, ThriftType.Binary);
        WriteBinary(value);
    }

    public void WriteStringField(short fieldId, string value)
    {
        WriteFieldHeader(fieldId, ThriftType.Binary);
        WriteString(value);
    }

    /// <summary>Writes the header of a struct-valued field and starts the struct; close it with <see cref="WriteStructEnd"/>.</summary>
    public void WriteStructFieldBegin(short fieldId)
    {
        WriteFieldHeader(fieldId, ThriftType.Struct);
        WriteStructBegin();
    }

    /// <summary>Writes the header of a list-valued field followed by the list header.</summary>
    public void WriteListFieldBegin(short fieldId, ThriftType elementType, int count)
    {
        WriteFieldHeader(fieldId, ThriftType.List);
        WriteListBegin(elementType, count);
    }

    /// <summary>Writes a list header: <c>count &lt;&lt; 4 | type</c> below 15 elements, else <c>0xF0 | type</c> and a varint count.</summary>
    public void WriteListBegin(ThriftType elementType, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count < 15)
        {
            WriteByte((byte)((count << 4) | (byte)elementType));
        }
        else
        {
            WriteByte((byte)(0xF0 | (byte)elementType));
            WriteVarint((uint)count);
        }
    }

    public void WriteI32(int value) => WriteVarint(ZigZag(value));

    public void WriteI64(long value) => WriteVarint(ZigZag(value));

    public void WriteBinary(ReadOnlySpan<byte> value)
    {
        WriteVarint((uint)value.Length);
        value.CopyTo(_output.GetSpan(value.Length));
        _output.Advance(value.Length);
    }

    public void WriteString(string value)
    {
        int length = Encoding.UTF8.GetByteCount(value);
        WriteVarint((uint)length);
        Encoding.UTF8.GetBytes(value, _output.GetSpan(length));
        _output.Advance(length);
    }

    public void WriteDouble(double value)
    {
        BinaryPrimitives.WriteDoubleLittleEndian(_output.GetSpan(8), value);
        _output.Advance(8);
    }

    /// <summary>Unsigned LEB128: seven bits a byte, least significant group first, high bit set on all but the last.</summary>
    public void WriteVarint(ulong value)
    {
        Span<byte> span = _output.GetSpan(10);
        int i = 0;
        while (value >= 0x80)
        {
            span[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        span[i++] = (byte)value;
        _output.Advance(i);
    }

    /// <summary>Maps signed to unsigned so that small magnitudes stay small: 0, -1, 1, -2 become 0, 1, 2, 3.</summary>
    public static uint ZigZag(int value) => (uint)((value << 1) ^ (value >> 31));

    /// <inheritdoc cref="ZigZag(int)"/>
    public static ulong ZigZag(long value) => (ulong)((value << 1) ^ (value >> 63));

    private void WriteByte(byte value)
    {
        _output.GetSpan(1)[0] = value;
        _output.Advance(1);
    }
}

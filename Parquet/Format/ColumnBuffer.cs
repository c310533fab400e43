using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Coordinated.Parquet.Format;

/// <summary>Min/max (PLAIN-encoded, byte arrays without length prefix) and counts of one column chunk.</summary>
internal sealed record ColumnStatistics(long NullCount, byte[]? Min, byte[]? Max, long? NanCount);

/// <summary>
/// The rows of one column in the row group being assembled: the non-null values, and for a nullable column one
/// definition level (0 = null, 1 = present) per row.
/// </summary>
/// <remarks>
/// Checking and appending are separate so that a row or a row group is validated completely before any column
/// changes; a rejected row leaves every buffer as it was.
/// </remarks>
internal abstract class ColumnBuffer
{
    private readonly List<byte>? _definitionLevels;

    protected ColumnBuffer(ParquetColumn column, PhysicalType physicalType)
    {
        Column = column;
        PhysicalType = physicalType;
        _definitionLevels = column.IsNullable ? [] : null;
    }

    public ParquetColumn Column { get; }

    public PhysicalType PhysicalType { get; }

    public int RowCount { get; private set; }

    public int NullCount { get; private set; }

    public abstract int ValueCount { get; }

    /// <summary>One level per row for a nullable column; empty for a required one.</summary>
    public ReadOnlySpan<byte> DefinitionLevels => CollectionsMarshal.AsSpan(_definitionLevels);

    /// <summary>A short description of what <see cref="CheckValue"/> accepts, for error messages.</summary>
    protected abstract string Accepts { get; }

    public static ColumnBuffer Create(ParquetColumn column) => column.Type switch
    {
        ParquetType.Boolean => new BooleanColumnBuffer(column),
        ParquetType.Int32 => new Int32ColumnBuffer(column),
        ParquetType.Int64 => new Int64ColumnBuffer(column),
        ParquetType.Double => new DoubleColumnBuffer(column),
        ParquetType.String => new StringColumnBuffer(column),
        _ => throw new ArgumentOutOfRangeException(nameof(column), column.Type, "Unknown column type."),
    };

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="value"/> can go in this column.</summary>
    public void CheckValue(object? value, string paramName)
    {
        if (value is null)
        {
            if (!Column.IsNullable)
            {
                throw new ArgumentException($"Column '{Column.Name}' is not nullable, but the value is null.", paramName);
            }
        }
        else
        {
            CheckNonNull(value, paramName);
        }
    }

    /// <summary>Appends a value that <see cref="CheckValue"/> accepted.</summary>
    public void Append(object? value)
    {
        if (value is null)
        {
            AppendNull();
        }
        else
        {
            AppendValue(value);
            AppendDefined();
        }
    }

    /// <summary>
    /// Throws <see cref="ArgumentException"/> unless <paramref name="values"/> is an array this column takes:
    /// <c>T[]</c>, or for value types also <c>T?[]</c> (nulls only in a nullable column).
    /// </summary>
    public abstract void CheckArray(Array values, string paramName);

    /// <summary>Appends every element of an array that <see cref="CheckArray"/> accepted.</summary>
    public abstract void AppendArray(Array values);

    public virtual void Clear()
    {
        _definitionLevels?.Clear();
        RowCount = 0;
        NullCount = 0;
    }

    /// <summary>The PLAIN size in bits of value <paramref name="index"/>, to cut column chunks into pages.</summary>
    public abstract long PlainBits(int index);

    /// <summary>Appends values <c>[start, end)</c> in PLAIN encoding.</summary>
    public abstract void WritePlain(int start, int end, IBufferWriter<byte> output);

    public abstract ColumnStatistics ComputeStatistics();

    protected abstract bool CanAppend(object value);

    protected virtual void CheckNonNull(object value, string paramName)
    {
        if (!CanAppend(value))
        {
            throw new ArgumentException(
                $"Column '{Column.Name}' ({Column.Type}) takes {Accepts}, but the value is a {value.GetType()}: {value}.",
                paramName);
        }
    }

    protected abstract void AppendValue(object value);

    protected void AppendNull()
    {
        _definitionLevels!.Add(0);
        NullCount++;
        RowCount++;
    }

    protected void AppendDefined()
    {
        _definitionLevels?.Add(1);
        RowCount++;
    }

    protected ArgumentException NullInRequiredColumn(int index, string paramName) =>
        new($"Column '{Column.Name}' is not nullable, but element {index} of its array is null.", paramName);

    protected ArgumentException WrongArrayType(Array values, string paramName) =>
        new($"Column '{Column.Name}' ({Column.Type}) takes an array of {Accepts}, but got a {values.GetType()}.", paramName);
}

/// <summary>A column of a value type <typeparamref name="T"/>, taking <c>T[]</c> and <c>T?[]</c> arrays.</summary>
internal abstract class ValueColumnBuffer<T> : ColumnBuffer
    where T : struct
{
    private readonly List<T> _values = [];

    protected ValueColumnBuffer(ParquetColumn column, PhysicalType physicalType)
        : base(column, physicalType)
    {
    }

    public override int ValueCount => _values.Count;

    protected ReadOnlySpan<T> Values => CollectionsMarshal.AsSpan(_values);

    public override void CheckArray(Array values, string paramName)
    {
        switch (values)
        {
            case T[]:
                break;
            case T?[] nullable when !Column.IsNullable:
                int index = Array.FindIndex(nullable, v => !v.HasValue);
                if (index >= 0)
                {
                    throw NullInRequiredColumn(index, paramName);
                }

                break;
            case T?[]:
                break;
            default:
                throw WrongArrayType(values, paramName);
        }
    }

    public override void AppendArray(Array values)
    {
        if (values is T[] plain)
        {
            foreach (T value in plain)
            {
                Add(value);
            }
        }
        else
        {
            foreach (T? value in (T?[])values)
            {
                if (value.HasValue)
                {
                    Add(value.Value);
                }
                else
                {
                    AppendNull();
                }
            }
        }
    }

    public override void Clear()
    {
        base.Clear();
        _values.Clear();
    }

    protected override void AppendValue(object value) => _values.Add(Convert(value));

    /// <summary>Converts a boxed value that <see cref="ColumnBuffer.CanAppend"/> accepted.</summary>
    protected abstract T Convert(object value);

    private void Add(T value)
    {
        _values.Add(value);
        AppendDefined();
    }
}

internal sealed class BooleanColumnBuffer(ParquetColumn column) : ValueColumnBuffer<bool>(column, PhysicalType.Boolean)
{
    protected override string Accepts => "bool";

    public override long PlainBits(int index) => 1;

    /// <summary>PLAIN booleans are bit-packed, one bit a value from the least significant bit, padded to a byte.</summary>
    public override void WritePlain(int start, int end, IBufferWriter<byte> output)
    {
        int count = end - start;
        int byteCount = (count + 7) / 8;
        Span<byte> span = output.GetSpan(byteCount)[..byteCount];
        span.Clear();
        ReadOnlySpan<bool> values = Values[start..end];
        for (int i = 0; i < values.Length; i++)
        {
            if (values[i])
            {
                span[i >> 3] |= (byte)(1 << (i & 7));
            }
        }

        output.Advance(byteCount);
    }

    public override ColumnStatistics ComputeStatistics()
    {
        ReadOnlySpan<bool> values = Values;
        if (values.IsEmpty)
        {
            return new ColumnStatistics(NullCount, null, null, null);
        }

        bool min = !values.Contains(false);
        bool max = values.Contains(true);
        return new ColumnStatistics(NullCount, [min ? (byte)1 : (byte)0], [max ? (byte)1 : (byte)0], null);
    }

    protected override bool CanAppend(object value) => value is bool;

    protected override bool Convert(object value) => (bool)value;
}

internal sealed class Int32ColumnBuffer(ParquetColumn column) : ValueColumnBuffer<int>(column, PhysicalType.Int32)
{
    protected override string Accepts => "int";

    public override long PlainBits(int index) => 32;

    public override void WritePlain(int start, int end, IBufferWriter<byte> output)
    {
        ReadOnlySpan<int> values = Values[start..end];
        Span<byte> span = output.GetSpan(values.Length * 4);
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(span[(i * 4)..], values[i]);
        }

        output.Advance(values.Length * 4);
    }

    public override ColumnStatistics ComputeStatistics()
    {
        ReadOnlySpan<int> values = Values;
        if (values.IsEmpty)
        {
            return new ColumnStatistics(NullCount, null, null, null);
        }

        int min = int.MaxValue, max = int.MinValue;
        foreach (int v in values)
        {
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }

        return new ColumnStatistics(NullCount, Bytes(min), Bytes(max), null);
    }

    protected override bool CanAppend(object value) => value is int;

    protected override int Convert(object value) => (int)value;

    private static byte[] Bytes(int value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
        return bytes;
    }
}

internal sealed class Int64ColumnBuffer(ParquetColumn column) : ValueColumnBuffer<long>(column, PhysicalType.Int64)
{
    protected override string Accepts => "long (or int)";

    public override long PlainBits(int index) => 64;

    public override void WritePlain(int start, int end, IBufferWriter<byte> output)
    {
        ReadOnlySpan<long> values = Values[start..end];
        Span<byte> span = output.GetSpan(values.Length * 8);
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(span[(i * 8)..], values[i]);
        }

        output.Advance(values.Length * 8);
    }

    public override ColumnStatistics ComputeStatistics()
    {
        ReadOnlySpan<long> values = Values;
        if (values.IsEmpty)
        {
            return new ColumnStatistics(NullCount, null, null, null);
        }

        long min = long.MaxValue, max = long.MinValue;
        foreach (long v in values)
        {
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }

        return new ColumnStatistics(NullCount, Bytes(min), Bytes(max), null);
    }

    protected override bool CanAppend(object value) => value is long or int;

    protected override long Convert(object value) => value is int i ? i : (long)value;

    private static byte[] Bytes(long value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
        return bytes;
    }
}

internal sealed class DoubleColumnBuffer(ParquetColumn column) : ValueColumnBuffer<double>(column, PhysicalType.Double)
{
    protected override string Accepts => "double (or float, int)";

    public override long PlainBits(int index) => 64;

    public override void WritePlain(int start, int end, IBufferWriter<byte> output)
    {
        ReadOnlySpan<double> values = Values[start..end];
        Span<byte> span = output.GetSpan(values.Length * 8);
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(span[(i * 8)..], values[i]);
        }

        output.Advance(values.Length * 8);
    }

    /// <summary>
    /// Follows parquet.thrift's rules for floating point under TYPE_ORDER: NaN is counted in nan_count and left
    /// out of min/max, there is no min/max when every value is NaN, a zero min is written as -0.0 and a zero max
    /// as +0.0.
    /// </summary>
    public override ColumnStatistics ComputeStatistics()
    {
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        long nanCount = 0;
        foreach (double v in Values)
        {
            if (double.IsNaN(v))
            {
                nanCount++;
                continue;
            }

            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }

        if (nanCount == ValueCount)
        {
            return new ColumnStatistics(NullCount, null, null, nanCount);
        }

        if (min == 0)
        {
            min = -0.0;
        }

        if (max == 0)
        {
            max = 0.0;
        }

        return new ColumnStatistics(NullCount, Bytes(min), Bytes(max), nanCount);
    }

    protected override bool CanAppend(object value) => value is double or float or int;

    protected override double Convert(object value) => value switch
    {
        float f => f,
        int i => i,
        _ => (double)value,
    };

    private static byte[] Bytes(double value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteDoubleLittleEndian(bytes, value);
        return bytes;
    }
}

/// <summary>A column of strings, held as their UTF-8 bytes.</summary>
internal sealed class StringColumnBuffer(ParquetColumn column) : ColumnBuffer(column, PhysicalType.ByteArray)
{
    /// <summary>Longer min/max values are left out of the statistics rather than bloat the footer.</summary>
    internal const int MaxStatisticsLength = 1024;

    private static readonly System.Text.UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly List<byte[]> _values = [];

    public override int ValueCount => _values.Count;

    protected override string Accepts => "string";

    public override void CheckArray(Array values, string paramName)
    {
        if (values is not string?[] strings)
        {
            throw WrongArrayType(values, paramName);
        }

        for (int i = 0; i < strings.Length; i++)
        {
            if (strings[i] is null)
            {
                if (!Column.IsNullable)
                {
                    throw NullInRequiredColumn(i, paramName);
                }
            }
            else
            {
                CheckEncodable(strings[i]!, paramName);
            }
        }
    }

    public override void AppendArray(Array values)
    {
        foreach (string? value in (string?[])values)
        {
            Append(value);
        }
    }

    public override void Clear()
    {
        base.Clear();
        _values.Clear();
    }

    public override long PlainBits(int index) => 8L * (4 + _values[index].Length);

    public override void WritePlain(int start, int end, IBufferWriter<byte> output)
    {
        for (int i = start; i < end; i++)
        {
            byte[] value = _values[i];
            Span<byte> span = output.GetSpan(4 + value.Length);
            BinaryPrimitives.WriteInt32LittleEndian(span, value.Length);
            value.CopyTo(span[4..]);
            output.Advance(4 + value.Length);
        }
    }

    /// <summary>STRING orders by unsigned byte-wise comparison of the UTF-8 bytes.</summary>
    public override ColumnStatistics ComputeStatistics()
    {
        if (_values.Count == 0)
        {
            return new ColumnStatistics(NullCount, null, null, null);
        }

        byte[] min = _values[0], max = _values[0];
        foreach (byte[] v in _values)
        {
            if (v.AsSpan().SequenceCompareTo(min) < 0)
            {
                min = v;
            }

            if (v.AsSpan().SequenceCompareTo(max) > 0)
            {
                max = v;
            }
        }

        return max.Length > MaxStatisticsLength || min.Length > MaxStatisticsLength
            ? new ColumnStatistics(NullCount, null, null, null)
            : new ColumnStatistics(NullCount, min, max, null);
    }

    protected override bool CanAppend(object value) => value is string;

    protected override void AppendValue(object value) => _values.Add(s_strictUtf8.GetBytes((string)value));

    protected override void CheckNonNull(object value, string paramName)
    {
        base.CheckNonNull(value, paramName);
        CheckEncodable((string)value, paramName);
    }

    private void CheckEncodable(string value, string paramName)
    {
        try
        {
            _ = s_strictUtf8.GetByteCount(value);
        }
        catch (System.Text.EncoderFallbackException e)
        {
            throw new ArgumentException($"Column '{Column.Name}': the string is not valid UTF-16 (lone surrogate) and cannot be stored as UTF-8.", paramName, e);
        }
    }
}

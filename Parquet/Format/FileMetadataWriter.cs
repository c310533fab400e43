using System.Buffers;
using Coordinated.Parquet.Thrift;

namespace Coordinated.Parquet.Format;

/// <summary>Serialises the footer's FileMetaData struct (parquet.thrift) with the Thrift compact protocol.</summary>
internal static class FileMetadataWriter
{
    public static void Write(
        IBufferWriter<byte> output, ParquetSchema schema, IReadOnlyList<RowGroupInfo> rowGroups, ParquetWriterOptions options)
    {
        var thrift = new ThriftCompactWriter(output);
        thrift.WriteStructBegin();
        thrift.WriteI32Field(1, 1); // version
        WriteSchema(thrift, schema);
        thrift.WriteI64Field(3, rowGroups.Sum(g => g.NumRows));
        thrift.WriteListFieldBegin(4, ThriftType.Struct, rowGroups.Count);
        for (int i = 0; i < rowGroups.Count; i++)
        {
            WriteRowGroup(thrift, rowGroups[i], i);
        }

        if (options.Metadata.Count > 0)
        {
            thrift.WriteListFieldBegin(5, ThriftType.Struct, options.Metadata.Count);
            foreach (KeyValuePair<string, string> pair in options.Metadata)
            {
                thrift.WriteStructBegin();
                thrift.WriteStringField(1, pair.Key);
                thrift.WriteStringField(2, pair.Value);
                thrift.WriteStructEnd();
            }
        }

        thrift.WriteStringField(6, options.CreatedBy);
        if (options.WriteStatistics)
        {
            // min_value/max_value are only defined together with column_orders: TYPE_ORDER for every column.
            thrift.WriteListFieldBegin(7, ThriftType.Struct, schema.Columns.Count);
            for (int i = 0; i < schema.Columns.Count; i++)
            {
                thrift.WriteStructBegin(); // ColumnOrder (a union)
                thrift.WriteStructFieldBegin(1); // TYPE_ORDER: TypeDefinedOrder {}
                thrift.WriteStructEnd();
                thrift.WriteStructEnd();
            }
        }

        thrift.WriteStructEnd();
    }

    private static void WriteSchema(ThriftCompactWriter thrift, ParquetSchema schema)
    {
        thrift.WriteListFieldBegin(2, ThriftType.Struct, schema.Columns.Count + 1);

        // The root group: a name and the number of children, no type and no repetition.
        thrift.WriteStructBegin();
        thrift.WriteStringField(4, "schema");
        thrift.WriteI32Field(5, schema.Columns.Count);
        thrift.WriteStructEnd();

        foreach (ParquetColumn column in schema.Columns)
        {
            thrift.WriteStructBegin();
            thrift.WriteI32Field(1, (int)ToPhysicalType(column.Type));
            thrift.WriteI32Field(3, (int)(column.IsNullable ? FieldRepetitionType.Optional : FieldRepetitionType.Required));
            thrift.WriteStringField(4, column.Name);
            if (column.Type == ParquetType.String)
            {
                thrift.WriteI32Field(6, (int)ConvertedType.Utf8);
                thrift.WriteStructFieldBegin(10); // LogicalType (a union)
                thrift.WriteStructFieldBegin(1); // STRING: StringType {}
                thrift.WriteStructEnd();
                thrift.WriteStructEnd();
            }

            thrift.WriteStructEnd();
        }
    }

    private static void WriteRowGroup(ThriftCompactWriter thrift, RowGroupInfo rowGroup, int ordinal)
    {
        thrift.WriteStructBegin();
        thrift.WriteListFieldBegin(1, ThriftType.Struct, rowGroup.Columns.Count);
        foreach (ColumnChunkInfo chunk in rowGroup.Columns)
        {
            WriteColumnChunk(thrift, chunk);
        }

        thrift.WriteI64Field(2, rowGroup.TotalByteSize);
        thrift.WriteI64Field(3, rowGroup.NumRows);
        thrift.WriteI64Field(5, rowGroup.FileOffset);
        thrift.WriteI64Field(6, rowGroup.TotalCompressedSize);
        if (ordinal <= short.MaxValue)
        {
            thrift.WriteI16Field(7, (short)ordinal);
        }

        thrift.WriteStructEnd();
    }

    private static void WriteColumnChunk(ThriftCompactWriter thrift, ColumnChunkInfo chunk)
    {
        thrift.WriteStructBegin();
        thrift.WriteI64Field(2, 0); // file_offset: deprecated, 0 when no ColumnMetaData is written outside the footer
        thrift.WriteStructFieldBegin(3); // ColumnMetaData
        thrift.WriteI32Field(1, (int)chunk.Type);
        thrift.WriteListFieldBegin(2, ThriftType.I32, 2);
        thrift.WriteI32((int)Encoding.Plain);
        thrift.WriteI32((int)Encoding.Rle);
        thrift.WriteListFieldBegin(3, ThriftType.Binary, 1);
        thrift.WriteString(chunk.Column.Name);
        thrift.WriteI32Field(4, (int)chunk.Codec);
        thrift.WriteI64Field(5, chunk.NumValues);
        thrift.WriteI64Field(6, chunk.TotalUncompressedSize);
        thrift.WriteI64Field(7, chunk.TotalCompressedSize);
        thrift.WriteI64Field(9, chunk.DataPageOffset);
        if (chunk.Statistics is { } statistics)
        {
            WriteStatistics(thrift, statistics);
        }

        thrift.WriteStructEnd();
        thrift.WriteStructEnd();
    }

    private static void WriteStatistics(ThriftCompactWriter thrift, ColumnStatistics statistics)
    {
        thrift.WriteStructFieldBegin(12);
        thrift.WriteI64Field(3, statistics.NullCount);
        if (statistics.Max is { } max)
        {
            thrift.WriteBinaryField(5, max); // max_value
        }

        if (statistics.Min is { } min)
        {
            thrift.WriteBinaryField(6, min); // min_value
        }

        if (statistics.NanCount is { } nanCount)
        {
            thrift.WriteI64Field(9, nanCount);
        }

        thrift.WriteStructEnd();
    }

    internal static PhysicalType ToPhysicalType(ParquetType type) => type switch
    {
        ParquetType.Boolean => PhysicalType.Boolean,
        ParquetType.Int32 => PhysicalType.Int32,
        ParquetType.Int64 => PhysicalType.Int64,
        ParquetType.Double => PhysicalType.Double,
        ParquetType.String => PhysicalType.ByteArray,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown column type."),
    };
}

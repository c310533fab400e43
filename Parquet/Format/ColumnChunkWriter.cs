using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using Coordinated.Parquet.Thrift;

namespace Coordinated.Parquet.Format;

/// <summary>What the footer needs to know about one column chunk once its pages are written.</summary>
internal sealed record ColumnChunkInfo(
    ParquetColumn Column,
    PhysicalType Type,
    CompressionCodec Codec,
    long NumValues,
    long TotalUncompressedSize,
    long TotalCompressedSize,
    long DataPageOffset,
    ColumnStatistics? Statistics);

/// <summary>What the footer needs to know about one row group.</summary>
internal sealed record RowGroupInfo(IReadOnlyList<ColumnChunkInfo> Columns, long NumRows, long FileOffset)
{
    public long TotalByteSize => Columns.Sum(c => c.TotalUncompressedSize);

    public long TotalCompressedSize => Columns.Sum(c => c.TotalCompressedSize);
}

/// <summary>
/// Writes the rows buffered for one column as a column chunk of data pages (v1, PLAIN), each page a Thrift
/// PageHeader followed by the page body, compressed as a whole: definition levels (nullable columns only, as a
/// 4-byte little-endian length and the RLE/bit-packed hybrid with bit width 1), then the non-null values.
/// A flat schema has no repetition levels.
/// </summary>
internal sealed class ColumnChunkWriter
{
    private readonly ParquetWriterOptions _options;
    private readonly ArrayBufferWriter<byte> _body = new();
    private readonly ArrayBufferWriter<byte> _levels = new();
    private readonly ArrayBufferWriter<byte> _header = new();
    private readonly MemoryStream _compressed = new();

    public ColumnChunkWriter(ParquetWriterOptions options) => _options = options;

    private CompressionCodec Codec => _options.Compression == ParquetCompression.Gzip
        ? CompressionCodec.Gzip
        : CompressionCodec.Uncompressed;

    public ColumnChunkInfo Write(ColumnBuffer buffer, CountingOutput output)
    {
        long dataPageOffset = output.Position;
        long uncompressedTotal = 0, compressedTotal = 0;
        ReadOnlySpan<byte> levels = buffer.DefinitionLevels;
        bool nullable = buffer.Column.IsNullable;
        long pageBits = 8L * _options.PageSize;

        int rowStart = 0, valueStart = 0;
        while (rowStart < buffer.RowCount)
        {
            int row = rowStart, value = valueStart;
            long bits = 0;
            while (row < buffer.RowCount && (row == rowStart || bits < pageBits))
            {
                if (!nullable || levels[row] != 0)
                {
                    bits += buffer.PlainBits(value);
                    value++;
                }

                bits += nullable ? 1 : 0;
                row++;
            }

            (int header, int uncompressed, int compressed) = WritePage(buffer, rowStart, row, valueStart, value, output);
            uncompressedTotal += header + uncompressed;
            compressedTotal += header + compressed;
            rowStart = row;
            valueStart = value;
        }

        ColumnStatistics? statistics = _options.WriteStatistics ? buffer.ComputeStatistics() : null;
        return new ColumnChunkInfo(
            buffer.Column, buffer.PhysicalType, Codec, buffer.RowCount,
            uncompressedTotal, compressedTotal, dataPageOffset, statistics);
    }

    private (int Header, int Uncompressed, int Compressed) WritePage(
        ColumnBuffer buffer, int rowStart, int rowEnd, int valueStart, int valueEnd, CountingOutput output)
    {
        _body.ResetWrittenCount();
        if (buffer.Column.IsNullable)
        {
            _levels.ResetWrittenCount();
            RleBitPackedHybrid.Encode(buffer.DefinitionLevels[rowStart..rowEnd], bitWidth: 1, _levels);
            BinaryPrimitives.WriteInt32LittleEndian(_body.GetSpan(4), _levels.WrittenCount);
            _body.Advance(4);
            _body.Write(_levels.WrittenSpan);
        }

        buffer.WritePlain(valueStart, valueEnd, _body);
        ReadOnlySpan<byte> page = _body.WrittenSpan;
        if (Codec == CompressionCodec.Gzip)
        {
            _compressed.SetLength(0);
            using (var gzip = new GZipStream(_compressed, _options.CompressionLevel, leaveOpen: true))
            {
                gzip.Write(page);
            }

            page = _compressed.GetBuffer().AsSpan(0, checked((int)_compressed.Length));
        }

        _header.ResetWrittenCount();
        var thrift = new ThriftCompactWriter(_header);
        thrift.WriteStructBegin();
        thrift.WriteI32Field(1, (int)PageType.DataPage);
        thrift.WriteI32Field(2, _body.WrittenCount);
        thrift.WriteI32Field(3, page.Length);
        thrift.WriteStructFieldBegin(5); // DataPageHeader
        thrift.WriteI32Field(1, rowEnd - rowStart); // num_values, nulls included
        thrift.WriteI32Field(2, (int)Encoding.Plain);
        thrift.WriteI32Field(3, (int)Encoding.Rle); // definition levels
        thrift.WriteI32Field(4, (int)Encoding.Rle); // repetition levels (none in a flat schema)
        thrift.WriteStructEnd();
        thrift.WriteStructEnd();

        output.Write(_header.WrittenSpan);
        output.Write(page);
        return (_header.WrittenCount, _body.WrittenCount, page.Length);
    }
}

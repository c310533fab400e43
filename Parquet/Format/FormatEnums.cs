namespace Coordinated.Parquet.Format;

// Enum values as parquet.thrift (apache/parquet-format) defines them; only the members this writer uses.

internal enum PhysicalType
{
    Boolean = 0,
    Int32 = 1,
    Int64 = 2,
    Double = 5,
    ByteArray = 6,
}

internal enum ConvertedType
{
    Utf8 = 0,
}

internal enum FieldRepetitionType
{
    Required = 0,
    Optional = 1,
}

internal enum Encoding
{
    Plain = 0,
    Rle = 3,
}

internal enum CompressionCodec
{
    Uncompressed = 0,
    Gzip = 2,
}

internal enum PageType
{
    DataPage = 0,
}

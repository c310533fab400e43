namespace Coordinated.Parquet;

/// <summary>The value types a <see cref="ParquetColumn"/> can hold, with the Parquet types they are stored as.</summary>
public enum ParquetType
{
    /// <summary>Physical type BOOLEAN; CLR <see cref="bool"/>.</summary>
    Boolean,

    /// <summary>Physical type INT32; CLR <see cref="int"/>.</summary>
    Int32,

    /// <summary>Physical type INT64; CLR <see cref="long"/> (an <see cref="int"/> is widened).</summary>
    Int64,

    /// <summary>Physical type DOUBLE; CLR <see cref="double"/> (a <see cref="float"/> or <see cref="int"/> is widened).</summary>
    Double,

    /// <summary>Physical type BYTE_ARRAY holding UTF-8, annotated with logical type STRING and converted type UTF8; CLR <see cref="string"/>.</summary>
    String,
}

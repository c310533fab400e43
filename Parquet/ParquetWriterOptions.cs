using System.IO.Compression;
using System.Reflection;

namespace Coordinated.Parquet;

/// <summary>The page compression codecs this writer supports.</summary>
public enum ParquetCompression
{
    /// <summary>Codec UNCOMPRESSED.</summary>
    Uncompressed,

    /// <summary>Codec GZIP: each page is one RFC 1952 gzip member.</summary>
    Gzip,
}

/// <summary>How a <see cref="ParquetWriter"/> lays out and compresses a file.</summary>
public sealed record ParquetWriterOptions
{
    /// <summary>The default <see cref="CreatedBy"/>: this library's name and version.</summary>
    public static readonly string DefaultCreatedBy =
        $"Coordinated.Parquet version {typeof(ParquetWriterOptions).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0"}";

    /// <summary>The page codec. Default <see cref="ParquetCompression.Uncompressed"/>.</summary>
    public ParquetCompression Compression { get; init; } = ParquetCompression.Uncompressed;

    /// <summary>The gzip effort when <see cref="Compression"/> is <see cref="ParquetCompression.Gzip"/>. Default <see cref="System.IO.Compression.CompressionLevel.Optimal"/>.</summary>
    public CompressionLevel CompressionLevel { get; init; } = CompressionLevel.Optimal;

    /// <summary>
    /// The most rows buffered before they are written out as one row group. Default 65,536.
    /// <see cref="ParquetWriter.FlushRowGroup"/> ends a row group earlier.
    /// </summary>
    public int RowGroupSize { get; init; } = 65_536;

    /// <summary>The approximate uncompressed size in bytes at which a column chunk starts a new data page. Default 1 MiB.</summary>
    public int PageSize { get; init; } = 1 << 20;

    /// <summary>The <c>created_by</c> string of the footer. Default <see cref="DefaultCreatedBy"/>.</summary>
    public string CreatedBy { get; init; } = DefaultCreatedBy;

    /// <summary>Key/value pairs for the footer's <c>key_value_metadata</c>, in the order given. Default none.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Metadata { get; init; } = [];

    /// <summary>Whether column chunks carry min/max/null-count statistics. Default true.</summary>
    public bool WriteStatistics { get; init; } = true;

    internal void Validate()
    {
        if (!Enum.IsDefined(Compression))
        {
            throw new ArgumentOutOfRangeException(nameof(Compression), Compression, "Unknown compression.");
        }

        if (RowGroupSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(RowGroupSize), RowGroupSize, "RowGroupSize must be at least 1 row.");
        }

        if (PageSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(PageSize), PageSize, "PageSize must be at least 1 byte.");
        }

        ArgumentNullException.ThrowIfNull(CreatedBy, nameof(CreatedBy));
        ArgumentNullException.ThrowIfNull(Metadata, nameof(Metadata));
        foreach (KeyValuePair<string, string> pair in Metadata)
        {
            if (pair.Key is null || pair.Value is null)
            {
                throw new ArgumentException("Metadata keys and values must not be null.", nameof(Metadata));
            }
        }
    }
}

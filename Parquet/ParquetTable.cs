using Coordinated.Parquet.Format;

namespace Coordinated.Parquet;

/// <summary>
/// An in-memory table of rows that is saved as one Parquet file: convenient for a results table that grows by
/// one row per trial and is written at the end.
/// </summary>
/// <example>
/// <code>
/// var table = new ParquetTable(new ParquetSchema(
///     ParquetColumn.Int32("trial"), ParquetColumn.Double("interval_s"), ParquetColumn.String("label", nullable: true)));
/// table.AddRow(1, 0.25, "warm");
/// table.AddRow(2, 0.5, null);
/// table.Save("results.parquet", new ParquetWriterOptions { Compression = ParquetCompression.Gzip });
/// </code>
/// </example>
public sealed class ParquetTable
{
    private readonly ColumnBuffer[] _checkers;
    private readonly List<object?[]> _rows = [];

    /// <summary>Creates an empty table with the given columns.</summary>
    public ParquetTable(ParquetSchema schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        Schema = schema;
        _checkers = [.. schema.Columns.Select(ColumnBuffer.Create)];
    }

    /// <summary>The columns.</summary>
    public ParquetSchema Schema { get; }

    /// <summary>The number of rows added.</summary>
    public int RowCount => _rows.Count;

    /// <summary>Adds a row: one value per column in schema order, null only in nullable columns.</summary>
    /// <exception cref="ArgumentException">Wrong number of values, a value of the wrong type, or null in a required column; the row was not added.</exception>
    public void AddRow(params ReadOnlySpan<object?> values)
    {
        ParquetWriter.CheckRow(_checkers, values, nameof(values));
        _rows.Add(values.ToArray());
    }

    /// <summary>Removes every row.</summary>
    public void Clear() => _rows.Clear();

    /// <summary>Writes the table to <paramref name="path"/> atomically (see <see cref="ParquetWriter.Create(string, ParquetSchema, ParquetWriterOptions?)"/>).</summary>
    public void Save(string path, ParquetWriterOptions? options = null)
    {
        using ParquetWriter writer = ParquetWriter.Create(path, Schema, options);
        WriteRows(writer);
    }

    /// <summary>Writes the table to <paramref name="stream"/>, which is left open.</summary>
    public void WriteTo(Stream stream, ParquetWriterOptions? options = null)
    {
        using ParquetWriter writer = ParquetWriter.Create(stream, Schema, options, leaveOpen: true);
        WriteRows(writer);
    }

    private void WriteRows(ParquetWriter writer)
    {
        try
        {
            foreach (object?[] row in _rows)
            {
                writer.WriteRow(row);
            }

            writer.Complete();
        }
        catch
        {
            writer.Abort();
            throw;
        }
    }
}

namespace Coordinated.Parquet;

/// <summary>A flat Parquet schema: an ordered list of uniquely named columns, none nested or repeated.</summary>
public sealed class ParquetSchema
{
    private readonly ParquetColumn[] _columns;

    /// <summary>Creates a schema from one or more columns.</summary>
    /// <exception cref="ArgumentException">No columns, a null column, or two columns with the same name.</exception>
    public ParquetSchema(params IEnumerable<ParquetColumn> columns)
    {
        ArgumentNullException.ThrowIfNull(columns);
        _columns = [.. columns];
        if (_columns.Length == 0)
        {
            throw new ArgumentException("A Parquet schema needs at least one column.", nameof(columns));
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < _columns.Length; i++)
        {
            ParquetColumn column = _columns[i]
                ?? throw new ArgumentException($"Column {i} is null.", nameof(columns));
            if (!names.Add(column.Name))
            {
                throw new ArgumentException($"Column name '{column.Name}' appears more than once.", nameof(columns));
            }
        }
    }

    /// <summary>The columns, in file order.</summary>
    public IReadOnlyList<ParquetColumn> Columns => _columns;

    /// <summary>The index of the column called <paramref name="name"/> (ordinal comparison), or -1.</summary>
    public int IndexOf(string name) => Array.FindIndex(_columns, c => c.Name == name);

    /// <inheritdoc/>
    public override string ToString() => string.Join(", ", _columns.Select(c => c.ToString()));
}

namespace Coordinated.Parquet;

/// <summary>One column of a flat <see cref="ParquetSchema"/>: a name, a value type, and whether it may hold nulls.</summary>
/// <remarks>A nullable column is written with repetition OPTIONAL and definition levels; the others are REQUIRED.</remarks>
public sealed class ParquetColumn
{
    private ParquetColumn(string name, ParquetType type, bool nullable)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (!Enum.IsDefined(type))
        {
            throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown Parquet column type.");
        }

        Name = name;
        Type = type;
        IsNullable = nullable;
    }

    /// <summary>The column name, as readers show it.</summary>
    public string Name { get; }

    /// <summary>The value type.</summary>
    public ParquetType Type { get; }

    /// <summary>Whether rows may hold null in this column (repetition OPTIONAL rather than REQUIRED).</summary>
    public bool IsNullable { get; }

    /// <summary>A column of <see cref="bool"/> values.</summary>
    public static ParquetColumn Boolean(string name, bool nullable = false) => new(name, ParquetType.Boolean, nullable);

    /// <summary>A column of <see cref="int"/> values.</summary>
    public static ParquetColumn Int32(string name, bool nullable = false) => new(name, ParquetType.Int32, nullable);

    /// <summary>A column of <see cref="long"/> values.</summary>
    public static ParquetColumn Int64(string name, bool nullable = false) => new(name, ParquetType.Int64, nullable);

    /// <summary>A column of <see cref="double"/> values.</summary>
    public static ParquetColumn Double(string name, bool nullable = false) => new(name, ParquetType.Double, nullable);

    /// <summary>A column of <see cref="string"/> values, stored as UTF-8.</summary>
    public static ParquetColumn String(string name, bool nullable = false) => new(name, ParquetType.String, nullable);

    /// <summary>A column of the given type.</summary>
    public static ParquetColumn Create(string name, ParquetType type, bool nullable = false) => new(name, type, nullable);

    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {Type}{(IsNullable ? "?" : "")}";
}

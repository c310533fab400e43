using System.Globalization;
using System.Text;
using System.Text.Json;
using Coordinated.Parquet;
using NUnit.Framework;

namespace Coordinated.Tests.Parquet;

/// <summary>Compares what the independent readers saw (see <see cref="NodeReaders"/>) with what was written.</summary>
internal static class ReaderAssert
{
    /// <summary>
    /// Asserts that both readers report exactly <paramref name="schema"/> and <paramref name="rows"/>, the row
    /// groups <paramref name="rowGroupSizes"/>, the codec, and (hyparquet, which exposes them) the statistics.
    /// </summary>
    public static void FileMatches(
        string file,
        ParquetSchema schema,
        IReadOnlyList<object?[]> rows,
        IReadOnlyList<int> rowGroupSizes,
        ParquetWriterOptions options)
    {
        JsonElement result = NodeReaders.Read(file);
        JsonElement readers = result.GetProperty("readers");
        using (Assert.EnterMultipleScope())
        {
            foreach (string name in NodeReaders.Names)
            {
                JsonElement reader = readers.GetProperty(name);
                if (reader.TryGetProperty("error", out JsonElement error))
                {
                    Assert.Fail($"{name} could not read {file}: {error.GetString()}");
                    continue;
                }

                SchemaMatches(name, reader.GetProperty("schema"), schema);
                RowsMatch(name, reader.GetProperty("rows"), schema, rows);
                MetadataMatches(name, reader.GetProperty("metadata"), schema, rows, rowGroupSizes, options);
            }
        }
    }

    public static IReadOnlyList<int> RowGroupSizes(int rowCount, int rowGroupSize) =>
        [.. Enumerable.Range(0, (rowCount + rowGroupSize - 1) / rowGroupSize)
            .Select(g => Math.Min(rowGroupSize, rowCount - (g * rowGroupSize)))];

    private static void SchemaMatches(string reader, JsonElement actual, ParquetSchema schema)
    {
        Assert.That(actual.GetArrayLength(), Is.EqualTo(schema.Columns.Count), $"{reader}: column count");
        for (int i = 0; i < Math.Min(actual.GetArrayLength(), schema.Columns.Count); i++)
        {
            ParquetColumn column = schema.Columns[i];
            JsonElement field = actual[i];
            string where = $"{reader}: column {i} '{column.Name}'";
            Assert.That(field.GetProperty("name").GetString(), Is.EqualTo(column.Name), $"{where}: name");
            if (reader == "hyparquet")
            {
                string physical = column.Type switch
                {
                    ParquetType.Boolean => "BOOLEAN",
                    ParquetType.Int32 => "INT32",
                    ParquetType.Int64 => "INT64",
                    ParquetType.Double => "DOUBLE",
                    _ => "BYTE_ARRAY",
                };
                Assert.That(field.GetProperty("type").GetString(), Is.EqualTo(physical), $"{where}: physical type");
                Assert.That(field.GetProperty("repetition").GetString(),
                    Is.EqualTo(column.IsNullable ? "OPTIONAL" : "REQUIRED"), $"{where}: repetition");
                bool isString = column.Type == ParquetType.String;
                Assert.That(field.GetProperty("convertedType").GetString(), Is.EqualTo(isString ? "UTF8" : null), $"{where}: converted type");
                Assert.That(field.GetProperty("logicalType").GetString(), Is.EqualTo(isString ? "STRING" : null), $"{where}: logical type");
            }
            else
            {
                string arrow = column.Type switch
                {
                    ParquetType.Boolean => "Bool",
                    ParquetType.Int32 => "Int32",
                    ParquetType.Int64 => "Int64",
                    ParquetType.Double => "Float64",
                    _ => "Utf8",
                };
                Assert.That(field.GetProperty("type").GetString(), Is.EqualTo(arrow), $"{where}: Arrow type");
                Assert.That(field.GetProperty("nullable").GetBoolean(), Is.EqualTo(column.IsNullable), $"{where}: nullable");
            }
        }
    }

    private static void RowsMatch(string reader, JsonElement actual, ParquetSchema schema, IReadOnlyList<object?[]> rows)
    {
        Assert.That(actual.GetArrayLength(), Is.EqualTo(rows.Count), $"{reader}: row count");
        int mismatches = 0;
        for (int r = 0; r < Math.Min(rows.Count, actual.GetArrayLength()) && mismatches < 20; r++)
        {
            JsonElement row = actual[r];
            for (int c = 0; c < schema.Columns.Count; c++)
            {
                string? problem = ValueProblem(schema.Columns[c], rows[r][c], row[c]);
                if (problem is not null)
                {
                    mismatches++;
                    Assert.Fail($"{reader}: row {r}, column '{schema.Columns[c].Name}': {problem}");
                }
            }
        }
    }

    private static void MetadataMatches(
        string reader, JsonElement metadata, ParquetSchema schema, IReadOnlyList<object?[]> rows,
        IReadOnlyList<int> rowGroupSizes, ParquetWriterOptions options)
    {
        Assert.That(metadata.GetProperty("version").GetInt32(), Is.EqualTo(1), $"{reader}: version");
        Assert.That(Integer(metadata.GetProperty("numRows")), Is.EqualTo(rows.Count), $"{reader}: num_rows");
        Assert.That(metadata.GetProperty("createdBy").GetString(), Is.EqualTo(options.CreatedBy), $"{reader}: created_by");
        var keyValues = metadata.GetProperty("keyValueMetadata").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString());
        Assert.That(keyValues, Is.EquivalentTo(options.Metadata.Select(p => new KeyValuePair<string, string?>(p.Key, p.Value))), $"{reader}: key_value_metadata");

        JsonElement groups = metadata.GetProperty("rowGroups");
        Assert.That(groups.EnumerateArray().Select(g => Integer(g.GetProperty("numRows"))),
            Is.EqualTo(rowGroupSizes.Select(n => (long)n)), $"{reader}: rows per row group");
        string codec = options.Compression == ParquetCompression.Gzip ? "GZIP" : "UNCOMPRESSED";
        int first = 0;
        for (int g = 0; g < Math.Min(groups.GetArrayLength(), rowGroupSizes.Count); g++)
        {
            JsonElement columns = groups[g].GetProperty("columns");
            Assert.That(columns.GetArrayLength(), Is.EqualTo(schema.Columns.Count), $"{reader}: row group {g} column count");
            for (int c = 0; c < Math.Min(columns.GetArrayLength(), schema.Columns.Count); c++)
            {
                ParquetColumn column = schema.Columns[c];
                JsonElement chunk = columns[c];
                string where = $"{reader}: row group {g}, column '{column.Name}'";
                Assert.That(chunk.GetProperty("path").EnumerateArray().Select(p => p.GetString()), Is.EqualTo(new[] { column.Name }), $"{where}: path_in_schema");
                Assert.That(chunk.GetProperty("codec").GetString(), Is.EqualTo(codec), $"{where}: codec");
                Assert.That(chunk.GetProperty("encodings").EnumerateArray().Select(e => e.GetString()), Does.Contain("PLAIN"), $"{where}: encodings");
                Assert.That(Integer(chunk.GetProperty("numValues")), Is.EqualTo(rowGroupSizes[g]), $"{where}: num_values");
                if (reader == "hyparquet")
                {
                    object?[] values = [.. rows.Skip(first).Take(rowGroupSizes[g]).Select(row => row[c])];
                    StatisticsMatch(where, chunk, column, values, options.WriteStatistics);
                }
            }

            first += rowGroupSizes[g];
        }
    }

    /// <summary>Statistics as parquet.thrift asks for them, worked out here from the rows written.</summary>
    private static void StatisticsMatch(string where, JsonElement chunk, ParquetColumn column, object?[] values, bool written)
    {
        JsonElement nullCount = chunk.GetProperty("nullCount");
        JsonElement min = chunk.GetProperty("min");
        JsonElement max = chunk.GetProperty("max");
        if (!written)
        {
            Assert.That(new[] { nullCount.ValueKind, min.ValueKind, max.ValueKind }, Is.All.EqualTo(JsonValueKind.Null), $"{where}: no statistics");
            return;
        }

        Assert.That(Integer(nullCount), Is.EqualTo(values.Count(v => v is null)), $"{where}: null_count");
        object[] present = [.. values.Where(v => v is not null).Select(v => Normalize(column, v)!)
            .Where(v => v is not double d || !double.IsNaN(d))];
        object? expectedMin = null, expectedMax = null;
        if (present.Length > 0)
        {
            switch (column.Type)
            {
                case ParquetType.String:
                    // UTF-8 byte order; a min or max longer than 1024 bytes is left out (by this writer's choice).
                    byte[][] utf8 = [.. present.Select(v => Encoding.UTF8.GetBytes((string)v))];
                    byte[] smin = utf8.Min(Utf8Order.Instance)!, smax = utf8.Max(Utf8Order.Instance)!;
                    if (smin.Length <= 1024 && smax.Length <= 1024)
                    {
                        expectedMin = Encoding.UTF8.GetString(smin);
                        expectedMax = Encoding.UTF8.GetString(smax);
                    }

                    break;
                case ParquetType.Double:
                    double dmin = present.Cast<double>().Min(), dmax = present.Cast<double>().Max();
                    expectedMin = dmin == 0 ? -0.0 : dmin; // a zero min is written as -0.0, a zero max as +0.0
                    expectedMax = dmax == 0 ? 0.0 : dmax;
                    break;
                default:
                    expectedMin = present.Min();
                    expectedMax = present.Max();
                    break;
            }
        }

        Assert.That(ValueProblem(column, expectedMin, min), Is.Null, $"{where}: min_value");
        Assert.That(ValueProblem(column, expectedMax, max), Is.Null, $"{where}: max_value");
    }

    /// <summary>Null when <paramref name="actual"/> is exactly <paramref name="expected"/>, else a description of the difference.</summary>
    private static string? ValueProblem(ParquetColumn column, object? expected, JsonElement actual)
    {
        expected = Normalize(column, expected);
        if (expected is null)
        {
            return actual.ValueKind == JsonValueKind.Null ? null : $"expected null, read {actual.GetRawText()}";
        }

        bool same = column.Type switch
        {
            ParquetType.Int32 => actual.ValueKind == JsonValueKind.Number && actual.TryGetInt32(out int i) && i == (int)expected,
            // INT64 must come back as a BigInt (check.mjs prints it as a JSON string), not a lossy JS number.
            ParquetType.Int64 => actual.ValueKind == JsonValueKind.String && long.TryParse(actual.GetString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l) && l == (long)expected,
            ParquetType.Double => ReadDouble(actual) is double d && SameDouble(d, (double)expected),
            ParquetType.Boolean => actual.ValueKind is JsonValueKind.True or JsonValueKind.False && actual.GetBoolean() == (bool)expected,
            _ => actual.ValueKind == JsonValueKind.String && string.Equals(actual.GetString(), (string)expected, StringComparison.Ordinal),
        };
        return same ? null : $"expected {Describe(expected)}, read {Truncate(actual.GetRawText())}";
    }

    private static object? Normalize(ParquetColumn column, object? value) => (column.Type, value) switch
    {
        (_, null) => null,
        (ParquetType.Int64, int i) => (long)i,
        (ParquetType.Double, float f) => (double)f,
        (ParquetType.Double, int i) => (double)i,
        _ => value,
    };

    private static double? ReadDouble(JsonElement actual) => actual.ValueKind switch
    {
        JsonValueKind.Number => actual.GetDouble(),
        JsonValueKind.String => actual.GetString() switch
        {
            "NaN" => double.NaN,
            "Infinity" => double.PositiveInfinity,
            "-Infinity" => double.NegativeInfinity,
            "-0" => -0.0,
            _ => null,
        },
        _ => null,
    };

    private static bool SameDouble(double actual, double expected) =>
        double.IsNaN(expected) ? double.IsNaN(actual) : BitConverter.DoubleToInt64Bits(actual) == BitConverter.DoubleToInt64Bits(expected);

    private static long Integer(JsonElement element) => element.ValueKind == JsonValueKind.String
        ? long.Parse(element.GetString()!, CultureInfo.InvariantCulture)
        : element.GetInt64();

    private static string Describe(object value) => value switch
    {
        double d => d.ToString("R", CultureInfo.InvariantCulture) + (BitConverter.DoubleToInt64Bits(d) == BitConverter.DoubleToInt64Bits(-0.0) ? " (-0)" : ""),
        string s => JsonSerializer.Serialize(Truncate(s)),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture)!,
    };

    private static string Truncate(string s) => s.Length <= 80 ? s : s[..80] + $"... ({s.Length} chars)";

    private sealed class Utf8Order : IComparer<byte[]>
    {
        public static readonly Utf8Order Instance = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}

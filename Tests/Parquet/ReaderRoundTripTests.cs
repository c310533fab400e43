using Coordinated.Parquet;
using NUnit.Framework;

namespace Coordinated.Tests.Parquet;

/// <summary>
/// Writes real files and reads them back with two readers nobody here wrote: hyparquet (JavaScript) and
/// parquet-wasm (Rust arrow-rs), run by node from Tests/Parquet/readers. Every value, the schema, the row
/// groups, the codec and the statistics are compared exactly.
/// </summary>
[TestFixture]
[Category("NodeReaders")]
public sealed class ReaderRoundTripTests
{
    private string _directory = null!;

    /// <summary>A table to write: a schema, rows, and the options to write them with (compression aside).</summary>
    public sealed record Table(string Name, ParquetSchema Schema, object?[][] Rows, ParquetWriterOptions Options)
    {
        public override string ToString() => Name;
    }

    [OneTimeSetUp]
    public void InstallReaders() => NodeReaders.EnsureInstalled();

    [SetUp]
    public void CreateDirectory() =>
        _directory = Directory.CreateTempSubdirectory("coordinated-parquet-").FullName;

    [TearDown]
    public void DeleteDirectory()
    {
        if (TestContext.CurrentContext.Result.Outcome.Status == NUnit.Framework.Interfaces.TestStatus.Passed)
        {
            Directory.Delete(_directory, recursive: true);
        }
        else
        {
            TestContext.Out.WriteLine($"Files kept in {_directory}");
        }
    }

    public static IEnumerable<TestCaseData> Tables()
    {
        foreach (Table table in TableCases())
        {
            foreach (ParquetCompression compression in Enum.GetValues<ParquetCompression>())
            {
                yield return new TestCaseData(table, compression).SetName($"RowWise_{table.Name}_{compression}");
            }
        }
    }

    [TestCaseSource(nameof(Tables))]
    public void RowWise_BothReadersSeeEveryValue(Table table, ParquetCompression compression)
    {
        ParquetWriterOptions options = table.Options with { Compression = compression };
        string path = Path.Combine(_directory, $"{table.Name}.parquet");
        using (ParquetWriter writer = ParquetWriter.Create(path, table.Schema, options))
        {
            foreach (object?[] row in table.Rows)
            {
                writer.WriteRow(row);
            }
        }

        Assert.That(File.Exists(path + ".tmp"), Is.False, "temporary file left behind");
        ReaderAssert.FileMatches(path, table.Schema, table.Rows,
            ReaderAssert.RowGroupSizes(table.Rows.Length, options.RowGroupSize), options);
    }

    [Test]
    public void ColumnWise_RowGroupsAreWrittenAsGiven([Values] ParquetCompression compression)
    {
        var schema = new ParquetSchema(
            ParquetColumn.Int32("i"), ParquetColumn.Int64("l", nullable: true), ParquetColumn.Double("d"),
            ParquetColumn.Boolean("b", nullable: true), ParquetColumn.String("s", nullable: true));
        var options = new ParquetWriterOptions { Compression = compression, RowGroupSize = 1000 };
        string path = Path.Combine(_directory, "columns.parquet");
        using (ParquetWriter writer = ParquetWriter.Create(path, schema, options))
        {
            writer.WriteRow(1, 10L, 0.5, true, "a");
            writer.WriteRow(2, null, -1.5, null, null);
            // Buffered rows become their own row group first; then each call is one row group.
            writer.WriteRowGroup(new[] { 3, 4, 5 }, new long?[] { null, long.MaxValue, 7 }, new[] { 1.0, double.NaN, -0.0 },
                new bool?[] { false, true, null }, new string?[] { "x", null, "" });
            writer.WriteRowGroup(new int?[] { 6 }, new long[] { -6 }, new double?[] { 6.5 }, new[] { true }, new[] { "six" });
            writer.WriteRowGroup(Array.Empty<int>(), Array.Empty<long>(), Array.Empty<double>(), Array.Empty<bool>(), Array.Empty<string>());
            writer.WriteRow(7, 70L, 7.0, false, "seven");
            Assert.That(writer.RowGroupCount, Is.EqualTo(3));
            Assert.That(writer.RowCount, Is.EqualTo(7));
        }

        object?[][] rows =
        [
            [1, 10L, 0.5, true, "a"],
            [2, null, -1.5, null, null],
            [3, null, 1.0, false, "x"],
            [4, long.MaxValue, double.NaN, true, null],
            [5, 7L, -0.0, null, ""],
            [6, -6L, 6.5, true, "six"],
            [7, 70L, 7.0, false, "seven"],
        ];
        ReaderAssert.FileMatches(path, schema, rows, [2, 3, 1, 1], options);
    }

    [Test]
    public void Table_SaveAndWriteTo_GiveTheSameFile()
    {
        var schema = new ParquetSchema(
            ParquetColumn.Int32("trial"), ParquetColumn.Int64("n"), ParquetColumn.Double("interval_s"),
            ParquetColumn.Boolean("ok"), ParquetColumn.String("label"), ParquetColumn.Double("x", nullable: true));
        var table = new ParquetTable(schema);
        for (int trial = 0; trial < 25; trial++)
        {
            table.AddRow(trial, 1000L * trial, trial * 0.125, trial % 4 != 0, $"trial {trial}", trial % 5 == 0 ? null : Math.Sqrt(trial));
        }

        var options = new ParquetWriterOptions { Compression = ParquetCompression.Gzip, RowGroupSize = 10 };
        string saved = Path.Combine(_directory, "saved.parquet");
        table.Save(saved, options);
        string streamed = Path.Combine(_directory, "streamed.parquet");
        using (var stream = new MemoryStream())
        {
            table.WriteTo(stream, options);
            Assert.That(stream.CanWrite, Is.True, "WriteTo leaves the stream open");
            File.WriteAllBytes(streamed, stream.ToArray());
        }

        Assert.That(File.ReadAllBytes(streamed), Is.EqualTo(File.ReadAllBytes(saved)));
        object?[][] rows = [.. Enumerable.Range(0, 25).Select(t => new object?[]
            { t, 1000L * t, t * 0.125, t % 4 != 0, $"trial {t}", t % 5 == 0 ? null : Math.Sqrt(t) })];
        ReaderAssert.FileMatches(saved, schema, rows, [10, 10, 5], options);
    }

    [Test]
    public void StreamAtNonZeroPosition_IsTheStartOfTheFile()
    {
        var schema = new ParquetSchema(ParquetColumn.String("s"));
        using var stream = new MemoryStream();
        stream.Write("not parquet"u8);
        using (ParquetWriter writer = ParquetWriter.Create(stream, schema, leaveOpen: true))
        {
            writer.WriteRow("hello");
        }

        string path = Path.Combine(_directory, "offset.parquet");
        File.WriteAllBytes(path, stream.ToArray()[11..]);
        ReaderAssert.FileMatches(path, schema, [["hello"]], [1], new ParquetWriterOptions());
    }

    [Test]
    public void Metadata_CreatedByAndKeyValues_AreRead()
    {
        var schema = new ParquetSchema(ParquetColumn.Int32("a"));
        var options = new ParquetWriterOptions
        {
            CreatedBy = "coordinated-tests version 9.9.9 (build abc)",
            Metadata = [new("app", "NBody"), new("ranks", "4"), new("unicode ✓", "π ≈ 3.14159")],
        };
        string path = Path.Combine(_directory, "metadata.parquet");
        using (ParquetWriter writer = ParquetWriter.Create(path, schema, options))
        {
            writer.WriteRow(42);
        }

        ReaderAssert.FileMatches(path, schema, [[42]], [1], options);
    }

    [Test]
    public void WithoutStatistics_ReadersSeeNone()
    {
        var schema = new ParquetSchema(ParquetColumn.Int32("a"), ParquetColumn.String("s", nullable: true));
        var options = new ParquetWriterOptions { WriteStatistics = false };
        string path = Path.Combine(_directory, "nostats.parquet");
        using (ParquetWriter writer = ParquetWriter.Create(path, schema, options))
        {
            writer.WriteRow(1, "x");
            writer.WriteRow(2, null);
        }

        ReaderAssert.FileMatches(path, schema, [[1, "x"], [2, null]], [2], options);
    }

    private static IEnumerable<Table> TableCases()
    {
        ParquetSchema allTypes = new(
            ParquetColumn.Int32("int32"), ParquetColumn.Int64("int64"), ParquetColumn.Double("double"),
            ParquetColumn.Boolean("boolean"), ParquetColumn.String("string"),
            ParquetColumn.Int32("int32_null", nullable: true), ParquetColumn.Int64("int64_null", nullable: true),
            ParquetColumn.Double("double_null", nullable: true), ParquetColumn.Boolean("boolean_null", nullable: true),
            ParquetColumn.String("string_null", nullable: true));

        yield return new Table("AllTypes", allTypes, RandomRows(allTypes, 200, seed: 1, NullPattern), new ParquetWriterOptions());
        yield return new Table("SingleRow", allTypes, RandomRows(allTypes, 1, seed: 2, (_, _) => false), new ParquetWriterOptions());
        yield return new Table("ZeroRows", allTypes, [], new ParquetWriterOptions());
        yield return new Table("AllNull", allTypes, RandomRows(allTypes, 40, seed: 3, (_, _) => true), new ParquetWriterOptions());
        yield return new Table("MultipleRowGroups", allTypes, RandomRows(allTypes, 50, seed: 4, NullPattern),
            new ParquetWriterOptions { RowGroupSize = 7 });
        yield return new Table("ManyPages", allTypes, RandomRows(allTypes, 3000, seed: 5, NullPattern),
            new ParquetWriterOptions { PageSize = 100, RowGroupSize = 2000 });
        yield return new Table("LargeTable", allTypes, RandomRows(allTypes, 70_000, seed: 6, NullPattern), new ParquetWriterOptions());
        yield return EdgeValues();
    }

    /// <summary>Nulls in runs and scattered, so definition levels use both RLE and bit-packed runs.</summary>
    private static bool NullPattern(int row, int column) =>
        (row / 40 % 3 == 1) || ((row * 7) + column) % 5 == 0;

    private static object?[][] RandomRows(ParquetSchema schema, int count, int seed, Func<int, int, bool> isNull)
    {
        var random = new Random(seed);
        var rows = new object?[count][];
        for (int r = 0; r < count; r++)
        {
            rows[r] = new object?[schema.Columns.Count];
            for (int c = 0; c < schema.Columns.Count; c++)
            {
                ParquetColumn column = schema.Columns[c];
                rows[r][c] = column.IsNullable && isNull(r, c) ? null : column.Type switch
                {
                    ParquetType.Int32 => random.Next(int.MinValue, int.MaxValue),
                    ParquetType.Int64 => random.NextInt64(long.MinValue, long.MaxValue),
                    ParquetType.Double => (random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-20, 20)),
                    ParquetType.Boolean => random.Next(2) == 1,
                    _ => new string((char)('a' + random.Next(26)), random.Next(0, 12)) + r,
                };
            }
        }

        return rows;
    }

    private static Table EdgeValues()
    {
        int[] ints = [int.MinValue, int.MaxValue, 0, -1, 1];
        long[] longs = [long.MinValue, long.MaxValue, 0, -1, (1L << 53) + 1, -(1L << 53) - 1];
        double[] doubles =
        [
            double.NaN, double.PositiveInfinity, double.NegativeInfinity, -0.0, 0.0, double.Epsilon, -double.Epsilon,
            double.MaxValue, double.MinValue, 0.1, 1e-300, 2.2250738585072014E-308, 9007199254740993.0, 1.0 / 3,
        ];
        string[] strings =
        [
            "", " ", "\0", "ü", "日本語", "🎉", "e\u0301", "שלום", "line\nbreak\ttab\"quote\\", "\uFFFF", "\U0010FFFF",
            new string('x', 5000), "zz", "A",
            "\U0010FFFF" + new string('y', 3000), // the largest in UTF-8 byte order, and too long for min/max
        ];
        var schema = new ParquetSchema(
            ParquetColumn.Int32("int32"), ParquetColumn.Int64("int64"), ParquetColumn.Double("double"),
            ParquetColumn.Boolean("boolean"), ParquetColumn.String("string"),
            ParquetColumn.Double("double_null", nullable: true), ParquetColumn.String("string_null", nullable: true),
            ParquetColumn.Double("only_nan"), ParquetColumn.Double("zeros"));
        int count = 3 * Math.Max(doubles.Length, strings.Length);
        object?[][] rows = [.. Enumerable.Range(0, count).Select(r => new object?[]
        {
            ints[r % ints.Length], longs[r % longs.Length], doubles[r % doubles.Length], r % 3 == 0,
            strings[r % strings.Length],
            r % 4 == 3 ? null : doubles[(r + 5) % doubles.Length],
            r % 4 == 1 ? null : strings[(r + 3) % strings.Length],
            double.NaN, r % 2 == 0 ? 0.0 : -0.0,
        })];
        // Rows cycle through the 15 strings in row groups of 14: chunks holding the long largest string carry no min/max.
        return new Table("EdgeValues", schema, rows, new ParquetWriterOptions { RowGroupSize = 14 });
    }
}

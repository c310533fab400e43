using System.Buffers.Binary;
using Coordinated.Parquet;
using NUnit.Framework;

namespace Coordinated.Tests.Parquet;

/// <summary>Input validation, the file frame and atomic replacement; no external reader needed.</summary>
[TestFixture]
public sealed class ParquetWriterTests
{
    private static readonly ParquetSchema s_schema = new(
        ParquetColumn.Int32("trial"), ParquetColumn.Int64("n"), ParquetColumn.Double("x", nullable: true),
        ParquetColumn.Boolean("ok"), ParquetColumn.String("label", nullable: true));

    private string _directory = null!;

    [SetUp]
    public void CreateDirectory() => _directory = Directory.CreateTempSubdirectory("coordinated-parquet-").FullName;

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    private static ParquetWriter NewWriter(MemoryStream stream) => ParquetWriter.Create(stream, s_schema, leaveOpen: true);

    [Test]
    public void WriteRow_WrongNumberOfValues_NamesTheColumns()
    {
        using var stream = new MemoryStream();
        using ParquetWriter writer = NewWriter(stream);
        Assert.That(() => writer.WriteRow(1, 2L, 3.0, true),
            Throws.ArgumentException.With.Message.Contains("Expected 5 values").And.Message.Contains("trial, n, x, ok, label").And.Message.Contains("got 4"));
        Assert.That(() => writer.WriteRow(1, 2L, 3.0, true, "a", "extra"), Throws.ArgumentException.With.Message.Contains("got 6"));
    }

    [Test]
    public void WriteRow_WrongType_NamesColumnTypeAndValue()
    {
        using var stream = new MemoryStream();
        using ParquetWriter writer = NewWriter(stream);
        Assert.That(() => writer.WriteRow("1", 2L, 3.0, true, "a"),
            Throws.ArgumentException.With.Message.Contains("'trial' (Int32)").And.Message.Contains("System.String"));
        Assert.That(() => writer.WriteRow(1, 2.0, 3.0, true, "a"), Throws.ArgumentException.With.Message.Contains("'n' (Int64)"));
        Assert.That(() => writer.WriteRow(1L, 2L, 3.0, true, "a"), Throws.ArgumentException.With.Message.Contains("'trial'"), "long does not narrow to int");
        Assert.That(() => writer.WriteRow(1, 2L, 3m, true, "a"), Throws.ArgumentException.With.Message.Contains("'x' (Double)"));
        Assert.That(() => writer.WriteRow(1, 2L, 3.0, 1, "a"), Throws.ArgumentException.With.Message.Contains("'ok' (Boolean)"));
        Assert.That(() => writer.WriteRow(1, 2L, 3.0, true, 'a'), Throws.ArgumentException.With.Message.Contains("'label' (String)"));
    }

    [Test]
    public void WriteRow_NullInRequiredColumn_Throws()
    {
        using var stream = new MemoryStream();
        using ParquetWriter writer = NewWriter(stream);
        Assert.That(() => writer.WriteRow(null, 2L, 3.0, true, "a"),
            Throws.ArgumentException.With.Message.Contains("'trial' is not nullable"));
        Assert.That(() => writer.WriteRow(1, 2L, null, true, null), Throws.Nothing, "x and label are nullable");
    }

    [Test]
    public void WriteRow_LoneSurrogate_IsRejectedBeforeAnythingIsBuffered()
    {
        using var stream = new MemoryStream();
        using ParquetWriter writer = NewWriter(stream);
        Assert.That(() => writer.WriteRow(1, 2L, 3.0, true, "bad \uD800"), Throws.ArgumentException.With.Message.Contains("'label'"));
        Assert.That(writer.RowCount, Is.Zero);
    }

    [Test]
    public void WriteRow_WideningConversions_AreAccepted()
    {
        using var stream = new MemoryStream();
        using ParquetWriter writer = NewWriter(stream);
        writer.WriteRow(1, 2, 3.5f, true, "int into Int64, float into Double");
        writer.WriteRow(1, 2L, 3, true, "int into Double");
        Assert.That(writer.RowCount, Is.EqualTo(2));
    }

    [Test]
    public void RejectedRow_LeavesTheWriterUsable()
    {
        using var stream = new MemoryStream();
        using ParquetWriter writer = NewWriter(stream);
        writer.WriteRow(1, 2L, 3.0, true, "a");
        // The bad value is the last one: the earlier columns must not have been appended.
        Assert.That(() => writer.WriteRow(2, 3L, 4.0, false, 5), Throws.ArgumentException);
        writer.WriteRow(3, 4L, null, false, null);
        Assert.That(writer.RowCount, Is.EqualTo(2));
        writer.Complete();
        Assert.That(FooterNumRowsIsPresent(stream.ToArray()), Is.True);
    }

    [Test]
    public void WriteRowGroup_Validation()
    {
        using var stream = new MemoryStream();
        using ParquetWriter writer = NewWriter(stream);
        Assert.That(() => writer.WriteRowGroup(new[] { 1 }, new[] { 2L }),
            Throws.ArgumentException.With.Message.Contains("Expected 5 column arrays"));
        Assert.That(() => writer.WriteRowGroup(new[] { 1, 2 }, new[] { 2L }, new[] { 1.0 }, new[] { true }, new[] { "a" }),
            Throws.ArgumentException.With.Message.Contains("differ in length"));
        Assert.That(() => writer.WriteRowGroup(new[] { 1L }, new[] { 2L }, new[] { 1.0 }, new[] { true }, new[] { "a" }),
            Throws.ArgumentException.With.Message.Contains("'trial' (Int32)").And.Message.Contains("System.Int64[]"));
        Assert.That(() => writer.WriteRowGroup(new int?[] { null }, new[] { 2L }, new[] { 1.0 }, new[] { true }, new[] { "a" }),
            Throws.ArgumentException.With.Message.Contains("'trial' is not nullable").And.Message.Contains("element 0"));
        Assert.That(() => writer.WriteRowGroup(new[] { 1 }, new[] { 2L }, new[] { 1.0 }, new[] { true }, new[] { "\uDC00" }),
            Throws.ArgumentException.With.Message.Contains("'label'"));
        Assert.That(() => writer.WriteRowGroup(new[] { 1 }, new[] { 2L }, new[] { 1.0 }, new[] { true }, new string?[] { null }), Throws.Nothing);
        Assert.That(writer.RowCount, Is.EqualTo(1));
    }

    [Test]
    public void Schema_Validation()
    {
        Assert.That(() => new ParquetSchema(), Throws.ArgumentException.With.Message.Contains("at least one column"));
        Assert.That(() => new ParquetSchema(ParquetColumn.Int32("a"), ParquetColumn.String("a")),
            Throws.ArgumentException.With.Message.Contains("'a' appears more than once"));
        Assert.That(() => ParquetColumn.Int32(" "), Throws.ArgumentException);
        Assert.That(s_schema.IndexOf("ok"), Is.EqualTo(3));
        Assert.That(s_schema.ToString(), Is.EqualTo("trial: Int32, n: Int64, x: Double?, ok: Boolean, label: String?"));
    }

    [Test]
    public void Options_Validation()
    {
        using var stream = new MemoryStream();
        Assert.That(() => ParquetWriter.Create(stream, s_schema, new ParquetWriterOptions { RowGroupSize = 0 }),
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("RowGroupSize"));
        Assert.That(() => ParquetWriter.Create(stream, s_schema, new ParquetWriterOptions { PageSize = 0 }),
            Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => ParquetWriter.Create(stream, s_schema, new ParquetWriterOptions { Compression = (ParquetCompression)7 }),
            Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => ParquetWriter.Create(new MemoryStream([], writable: false), s_schema), Throws.ArgumentException);
    }

    [Test]
    public void File_IsFramedByMagicAndFooterLength()
    {
        using var stream = new MemoryStream();
        using (ParquetWriter writer = NewWriter(stream))
        {
            writer.WriteRow(1, 2L, 3.0, true, "a");
        }

        byte[] bytes = stream.ToArray();
        Assert.That(bytes[..4], Is.EqualTo("PAR1"u8.ToArray()));
        Assert.That(bytes[^4..], Is.EqualTo("PAR1"u8.ToArray()));
        int footerLength = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(bytes.Length - 8));
        Assert.That(footerLength, Is.InRange(1, bytes.Length - 12));
        // FileMetaData starts with field 1 (version, i32) = 1: header 0x15, zigzag(1) = 0x02.
        Assert.That(bytes[bytes.Length - 8 - footerLength], Is.EqualTo(0x15));
        Assert.That(bytes[bytes.Length - 8 - footerLength + 1], Is.EqualTo(0x02));
    }

    [Test]
    public void ZeroRows_IsAValidFrameWithNoRowGroups()
    {
        using var stream = new MemoryStream();
        NewWriter(stream).Dispose();
        byte[] bytes = stream.ToArray();
        Assert.That(bytes[..4], Is.EqualTo("PAR1"u8.ToArray()));
        Assert.That(bytes[^4..], Is.EqualTo("PAR1"u8.ToArray()));
    }

    [Test]
    public void Path_AppearsOnlyWhenComplete()
    {
        string path = Path.Combine(_directory, "results.parquet");
        using (ParquetWriter writer = ParquetWriter.Create(path, s_schema, new ParquetWriterOptions { RowGroupSize = 1 }))
        {
            writer.WriteRow(1, 2L, 3.0, true, "a"); // a whole row group is on disk already
            Assert.That(File.Exists(path), Is.False, "the final file must not appear before the footer is written");
            Assert.That(File.Exists(path + ".tmp"), Is.True);
        }

        Assert.That(File.Exists(path), Is.True);
        Assert.That(File.Exists(path + ".tmp"), Is.False);
        Assert.That(File.ReadAllBytes(path)[^4..], Is.EqualTo("PAR1"u8.ToArray()));
    }

    [Test]
    public void Complete_ReplacesAnExistingFile()
    {
        string path = Path.Combine(_directory, "results.parquet");
        File.WriteAllText(path, "old");
        using (ParquetWriter writer = ParquetWriter.Create(path, s_schema))
        {
            writer.WriteRow(1, 2L, 3.0, true, "a");
        }

        Assert.That(File.ReadAllBytes(path)[..4], Is.EqualTo("PAR1"u8.ToArray()));
    }

    [Test]
    public void Abort_DiscardsTheFileAndKeepsTheOldOne()
    {
        string path = Path.Combine(_directory, "results.parquet");
        File.WriteAllText(path, "old");
        using (ParquetWriter writer = ParquetWriter.Create(path, s_schema))
        {
            writer.WriteRow(1, 2L, 3.0, true, "a");
            writer.Abort();
            Assert.That(() => writer.WriteRow(1, 2L, 3.0, true, "a"),
                Throws.InvalidOperationException.With.Message.Contains("aborted"));
        }

        Assert.That(File.ReadAllText(path), Is.EqualTo("old"));
        Assert.That(File.Exists(path + ".tmp"), Is.False);
    }

    [Test]
    public void StaleTemporaryFile_IsOverwritten()
    {
        string path = Path.Combine(_directory, "results.parquet");
        File.WriteAllText(path + ".tmp", "left by a crashed run");
        using (ParquetWriter writer = ParquetWriter.Create(path, s_schema))
        {
            writer.WriteRow(1, 2L, 3.0, true, "a");
        }

        Assert.That(File.ReadAllBytes(path)[..4], Is.EqualTo("PAR1"u8.ToArray()));
        Assert.That(File.Exists(path + ".tmp"), Is.False);
    }

    [Test]
    public void AfterComplete_WritesThrow_AndCompleteIsIdempotent()
    {
        using var stream = new MemoryStream();
        ParquetWriter writer = NewWriter(stream);
        writer.WriteRow(1, 2L, 3.0, true, "a");
        writer.Complete();
        long length = stream.Length;
        writer.Complete();
        writer.Dispose();
        Assert.That(stream.Length, Is.EqualTo(length));
        Assert.That(() => writer.WriteRow(1, 2L, 3.0, true, "a"), Throws.InvalidOperationException.With.Message.Contains("completed"));
    }

    [Test]
    public void Stream_IsClosedUnlessLeftOpen()
    {
        var stream = new MemoryStream();
        ParquetWriter.Create(stream, s_schema).Dispose();
        Assert.That(stream.CanWrite, Is.False);
    }

    [Test]
    public void Table_ValidatesRowsWhenAdded()
    {
        var table = new ParquetTable(s_schema);
        table.AddRow(1, 2L, null, true, null);
        Assert.That(() => table.AddRow(1, 2L, 3.0, "yes", "a"), Throws.ArgumentException.With.Message.Contains("'ok'"));
        Assert.That(table.RowCount, Is.EqualTo(1));
        table.Clear();
        Assert.That(table.RowCount, Is.Zero);
    }

    /// <summary>Field 3 of FileMetaData (num_rows, i64) follows the schema list; here only its presence is checked.</summary>
    private static bool FooterNumRowsIsPresent(byte[] file)
    {
        int footerLength = BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(file.Length - 8));
        return footerLength > 0 && file.AsSpan(file.Length - 8 - footerLength, footerLength).IndexOf((byte)0x16) >= 0;
    }
}

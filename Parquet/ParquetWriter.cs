using System.Buffers;
using System.Buffers.Binary;
using Coordinated.Parquet.Format;

namespace Coordinated.Parquet;

/// <summary>
/// Writes a flat table to a Parquet file: rows are buffered per column and written out as row groups, and
/// <see cref="Complete"/> (or <see cref="Dispose"/>) writes the footer.
/// </summary>
/// <remarks>
/// <para>
/// The file layout is <c>PAR1</c>, the column chunks of each row group (data pages v1, PLAIN values,
/// RLE/bit-packed definition levels for nullable columns, optionally gzip), the Thrift compact FileMetaData,
/// its 4-byte little-endian length, and <c>PAR1</c> again.
/// </para>
/// <para>
/// Given a path, the writer writes to <c>path.tmp</c> and renames it to <c>path</c> only after the footer is
/// flushed to disk, so <c>path</c> is either absent, its previous content, or a complete file. A writer that
/// failed while writing, or was <see cref="Abort"/>ed, deletes <c>path.tmp</c> instead.
/// </para>
/// <para>
/// Every row or row group is validated completely before it is buffered: an <see cref="ArgumentException"/>
/// leaves the writer as it was, and it can go on.
/// </para>
/// <para>Not thread-safe.</para>
/// </remarks>
public sealed class ParquetWriter : IDisposable
{
    private static ReadOnlySpan<byte> Magic => "PAR1"u8;

    private readonly CountingOutput _output;
    private readonly bool _leaveOpen;
    private readonly string? _path;
    private readonly string? _temporaryPath;
    private readonly ColumnBuffer[] _columns;
    private readonly ColumnChunkWriter _chunkWriter;
    private readonly List<RowGroupInfo> _rowGroups = [];
    private State _state = State.Open;

    private ParquetWriter(Stream stream, bool leaveOpen, string? path, string? temporaryPath, ParquetSchema schema, ParquetWriterOptions options)
    {
        _output = new CountingOutput(stream);
        _leaveOpen = leaveOpen;
        _path = path;
        _temporaryPath = temporaryPath;
        Schema = schema;
        Options = options;
        _columns = [.. schema.Columns.Select(ColumnBuffer.Create)];
        _chunkWriter = new ColumnChunkWriter(options);
    }

    private enum State
    {
        Open,
        Completed,
        Aborted,
    }

    /// <summary>The schema every row follows.</summary>
    public ParquetSchema Schema { get; }

    /// <summary>The options the writer was created with.</summary>
    public ParquetWriterOptions Options { get; }

    /// <summary>Rows accepted so far, buffered or written.</summary>
    public long RowCount { get; private set; }

    /// <summary>Row groups written so far.</summary>
    public int RowGroupCount => _rowGroups.Count;

    /// <summary>
    /// Creates a writer for the file at <paramref name="path"/>, which appears only when the writer completes
    /// (written as <c>path.tmp</c>, flushed to disk, then renamed over any existing file).
    /// </summary>
    /// <exception cref="ArgumentException">Invalid options.</exception>
    /// <exception cref="IOException">The temporary file cannot be created.</exception>
    public static ParquetWriter Create(string path, ParquetSchema schema, ParquetWriterOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(schema);
        options ??= new ParquetWriterOptions();
        options.Validate();
        string fullPath = Path.GetFullPath(path);
        string temporaryPath = fullPath + ".tmp";
        var stream = new FileStream(temporaryPath, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 16);
        try
        {
            return Start(new ParquetWriter(stream, leaveOpen: false, fullPath, temporaryPath, schema, options));
        }
        catch
        {
            stream.Dispose();
            File.Delete(temporaryPath);
            throw;
        }
    }

    /// <summary>
    /// Creates a writer that writes a Parquet file to <paramref name="stream"/>, whose current position is taken
    /// as the start of the file. The stream need not be seekable.
    /// </summary>
    /// <param name="stream">A writable stream.</param>
    /// <param name="schema">The columns.</param>
    /// <param name="options">Layout and compression; defaults if null.</param>
    /// <param name="leaveOpen">Whether to leave <paramref name="stream"/> open when the writer completes or aborts.</param>
    public static ParquetWriter Create(Stream stream, ParquetSchema schema, ParquetWriterOptions? options = null, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(schema);
        if (!stream.CanWrite)
        {
            throw new ArgumentException("The stream is not writable.", nameof(stream));
        }

        options ??= new ParquetWriterOptions();
        options.Validate();
        return Start(new ParquetWriter(stream, leaveOpen, path: null, temporaryPath: null, schema, options));
    }

    /// <summary>
    /// Appends one row: one value per column in schema order, null only in nullable columns. Writes a row group
    /// when <see cref="ParquetWriterOptions.RowGroupSize"/> rows are buffered.
    /// </summary>
    /// <exception cref="ArgumentException">Wrong number of values, a value of the wrong type, or null in a required column; nothing was buffered.</exception>
    public void WriteRow(params ReadOnlySpan<object?> values)
    {
        ThrowIfNotOpen();
        CheckRow(_columns, values, nameof(values));
        for (int i = 0; i < _columns.Length; i++)
        {
            _columns[i].Append(values[i]);
        }

        RowCount++;
        if (_columns[0].RowCount >= Options.RowGroupSize)
        {
            FlushRowGroup();
        }
    }

    /// <summary>
    /// Writes the buffered rows, if any, then the given columns as one row group of their own.
    /// Each column is an array of its CLR type: <c>int[]</c>, <c>long[]</c>, <c>double[]</c>, <c>bool[]</c> or
    /// <c>string[]</c>, or for the value types the nullable form (<c>int?[]</c> ...), with null only in nullable columns.
    /// </summary>
    /// <remarks>Arrays of length 0 write no row group.</remarks>
    /// <exception cref="ArgumentException">Wrong number of columns, arrays of different lengths, the wrong element type, or null in a required column; nothing was written.</exception>
    public void WriteRowGroup(params ReadOnlySpan<Array> columns)
    {
        ThrowIfNotOpen();
        if (columns.Length != _columns.Length)
        {
            throw new ArgumentException(
                $"Expected {_columns.Length} column arrays ({Schema}), got {columns.Length}.", nameof(columns));
        }

        int length = -1;
        for (int i = 0; i < columns.Length; i++)
        {
            Array array = columns[i] ?? throw new ArgumentException($"The array for column '{_columns[i].Column.Name}' is null.", nameof(columns));
            if (array.Rank != 1)
            {
                throw new ArgumentException($"The array for column '{_columns[i].Column.Name}' is not one-dimensional.", nameof(columns));
            }

            if (length >= 0 && array.Length != length)
            {
                throw new ArgumentException(
                    $"Column arrays differ in length: '{_columns[0].Column.Name}' has {length} rows, '{_columns[i].Column.Name}' has {array.Length}.",
                    nameof(columns));
            }

            length = array.Length;
            _columns[i].CheckArray(array, nameof(columns));
        }

        FlushRowGroup();
        if (length == 0)
        {
            return;
        }

        for (int i = 0; i < columns.Length; i++)
        {
            _columns[i].AppendArray(columns[i]);
        }

        RowCount += length;
        FlushRowGroup();
    }

    /// <summary>Writes the buffered rows as a row group now, ending it early; does nothing when none are buffered.</summary>
    public void FlushRowGroup()
    {
        ThrowIfNotOpen();
        if (_columns[0].RowCount == 0)
        {
            return;
        }

        try
        {
            long offset = _output.Position;
            var chunks = new ColumnChunkInfo[_columns.Length];
            for (int i = 0; i < _columns.Length; i++)
            {
                chunks[i] = _chunkWriter.Write(_columns[i], _output);
            }

            _rowGroups.Add(new RowGroupInfo(chunks, _columns[0].RowCount, offset));
            foreach (ColumnBuffer column in _columns)
            {
                column.Clear();
            }
        }
        catch
        {
            Abort();
            throw;
        }
    }

    /// <summary>
    /// Writes the buffered rows and the footer, flushes, and for a path renames <c>path.tmp</c> to <c>path</c>.
    /// Later writes throw <see cref="InvalidOperationException"/>; a second call does nothing.
    /// </summary>
    public void Complete()
    {
        if (_state == State.Completed)
        {
            return;
        }

        ThrowIfNotOpen();
        FlushRowGroup();
        try
        {
            var footer = new ArrayBufferWriter<byte>();
            FileMetadataWriter.Write(footer, Schema, _rowGroups, Options);
            _output.Write(footer.WrittenSpan);
            Span<byte> length = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(length, footer.WrittenCount);
            _output.Write(length);
            _output.Write(Magic);
            if (_output.Stream is FileStream file)
            {
                file.Flush(flushToDisk: true);
            }
            else
            {
                _output.Stream.Flush();
            }

            if (!_leaveOpen)
            {
                _output.Stream.Dispose();
            }

            if (_temporaryPath is not null)
            {
                File.Move(_temporaryPath, _path!, overwrite: true);
            }

            _state = State.Completed;
        }
        catch
        {
            Abort();
            throw;
        }
    }

    /// <summary>
    /// Gives the file up: closes the stream (unless left open) and, for a path, deletes <c>path.tmp</c>, leaving
    /// any existing file at the path untouched. A stream keeps what was already written to it. Does nothing once
    /// completed or aborted.
    /// </summary>
    public void Abort()
    {
        if (_state != State.Open)
        {
            return;
        }

        _state = State.Aborted;
        if (!_leaveOpen)
        {
            _output.Stream.Dispose();
        }

        if (_temporaryPath is not null)
        {
            try
            {
                File.Delete(_temporaryPath);
            }
            catch (IOException)
            {
                // Best effort: a stale path.tmp is harmless and the next writer truncates it.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    /// <summary>Completes the file if it is still open (see <see cref="Complete"/>); call <see cref="Abort"/> first to discard it instead.</summary>
    public void Dispose()
    {
        if (_state == State.Open)
        {
            Complete();
        }
    }

    internal static void CheckRow(ColumnBuffer[] columns, ReadOnlySpan<object?> values, string paramName)
    {
        if (values.Length != columns.Length)
        {
            throw new ArgumentException(
                $"Expected {columns.Length} values, one per column ({string.Join(", ", columns.Select(c => c.Column.Name))}), got {values.Length}.",
                paramName);
        }

        for (int i = 0; i < columns.Length; i++)
        {
            columns[i].CheckValue(values[i], paramName);
        }
    }

    private static ParquetWriter Start(ParquetWriter writer)
    {
        writer._output.Write(Magic);
        return writer;
    }

    private void ThrowIfNotOpen()
    {
        if (_state != State.Open)
        {
            throw new InvalidOperationException(_state == State.Completed
                ? "The Parquet writer has completed its file; create a new writer to write another."
                : "The Parquet writer was aborted (by Abort or a failed write); its file was discarded.");
        }
    }
}

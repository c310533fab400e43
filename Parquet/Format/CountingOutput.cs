namespace Coordinated.Parquet.Format;

/// <summary>Writes to a stream and counts the bytes, since Parquet offsets are from the start of the file and the stream need not be seekable.</summary>
internal sealed class CountingOutput(Stream stream)
{
    public Stream Stream { get; } = stream;

    /// <summary>Bytes written so far: the file offset of the next byte.</summary>
    public long Position { get; private set; }

    public void Write(ReadOnlySpan<byte> bytes)
    {
        Stream.Write(bytes);
        Position += bytes.Length;
    }
}

using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Coordinated.Checkpointing;

/// <summary>One rank's part of a local-level checkpoint, decoded and verified (docs/FORMAT.md, "Local level file").</summary>
internal sealed record LocalPart(
    int Rank, long Step, int RestartCount, IReadOnlyList<LocalPart.Array> Arrays, IReadOnlyList<(string Name, long Bits)> Scalars, byte[] Blob)
{
    /// <summary>One registered array of the part: its slice and where its bytes are in <see cref="Blob"/>.</summary>
    internal sealed record Array(string Name, long Offset, long Count, int ElementBytes, int DataOffset, int DataLength);
}

/// <summary>
/// The local level's file format (docs/FORMAT.md): a header (app, step, rank count, the ranks held, parameters,
/// state names, the part lengths) with its CRC32C, then one part per rank, each with its own header (its arrays'
/// slices and CRC32C, its scalars) and CRC32C, then the arrays' bytes. Little-endian. Local (no communication).
/// </summary>
internal static partial class LocalFile
{
    internal const string Extension = ".lckpt";
    private const string Magic = "COORDLV1";

    /// <summary><c>APP-STEP-ranks-RANKS-of-P.own.lckpt</c> (or <c>.partner.lckpt</c>): named by the ranks it holds, never by host.</summary>
    internal static string Name(string app, long step, IEnumerable<int> ranks, int size, bool partner) =>
        $"{app}-{step.ToString("D9", CultureInfo.InvariantCulture)}-ranks-{NodeLayout.Ranges(ranks, "_")}-of-{size.ToString(CultureInfo.InvariantCulture)}.{(partner ? "partner" : "own")}{Extension}";

    /// <summary>What a file name says, or null if it is not a local-level file.</summary>
    internal static (string App, long Step, int[] Ranks, int Size, bool Partner)? ParseName(string fileName)
    {
        Match m = NamePattern().Match(fileName);
        if (!m.Success || NodeLayout.ParseRanges(m.Groups["ranks"].Value) is not int[] ranks
            || !long.TryParse(m.Groups["step"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out long step)
            || !int.TryParse(m.Groups["size"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out int size))
        {
            return null;
        }

        return (m.Groups["app"].Value, step, ranks, size, m.Groups["kind"].Value == "partner");
    }

    [GeneratedRegex(@"^(?<app>.+)-(?<step>\d{9,})-ranks-(?<ranks>[0-9_-]+)-of-(?<size>\d+)\.(?<kind>own|partner)\.lckpt$")]
    private static partial Regex NamePattern();

    /// <summary>The parameters as one canonical text (doubles by their bits), compared on restore.</summary>
    internal static string Parameters(IReadOnlyDictionary<string, object> parameters) =>
        string.Join('\n', parameters.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key + "=" + p.Value switch
        {
            double d => "double:" + BitConverter.DoubleToInt64Bits(d).ToString("x16", CultureInfo.InvariantCulture) + ":" + d.ToString("R", CultureInfo.InvariantCulture),
            long l => "long:" + l.ToString(CultureInfo.InvariantCulture),
            _ => "string:" + Convert.ToString(p.Value, CultureInfo.InvariantCulture),
        }));

    /// <summary>Checksum block size: the global snapshot's (4 MiB), so that three blocks at a time run as three CRC streams.</summary>
    internal const int BlockBytes = SnapshotFile.ChecksumBlockBytes;

    /// <summary>CRC32C of each <see cref="BlockBytes"/> block of <paramref name="data"/> (the last one shorter), three full blocks at a time.</summary>
    internal static uint[] BlockChecksums(ReadOnlySpan<byte> data)
    {
        int count = (int)((data.Length + (long)BlockBytes - 1) / BlockBytes);
        int full = data.Length / BlockBytes;
        var crcs = new uint[count];
        int i = 0;
        for (; i + 3 <= full; i += 3)
        {
            (crcs[i], crcs[i + 1], crcs[i + 2]) = Crc32C.Compute3(
                data.Slice(i * BlockBytes, BlockBytes), data.Slice((i + 1) * BlockBytes, BlockBytes), data.Slice((i + 2) * BlockBytes, BlockBytes));
        }

        for (; i < count; i++)
        {
            int start = i * BlockBytes;
            crcs[i] = Crc32C.Compute(data.Slice(start, Math.Min(BlockBytes, data.Length - start)));
        }

        return crcs;
    }

    /// <summary>
    /// The header of this rank's part: its arrays (slice, byte length, CRC32C of each block), its scalars, the step and
    /// restart count, then the header's own CRC32C. The part is this header followed by the arrays' bytes in order.
    /// </summary>
    internal static byte[] EncodePartHeader(SnapshotContent content, int rank, long step)
    {
        using var header = new MemoryStream();
        using (var w = new BinaryWriter(header, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(rank);
            w.Write(step);
            w.Write(content.RestartCount);
            w.Write(content.Arrays.Count);
            foreach (StateArray a in content.Arrays)
            {
                Span<byte> bytes = a.Bytes;
                w.Write(a.Name);
                w.Write(a.GlobalOffset);
                w.Write(a.LocalCount);
                w.Write(a.ElementBytes);
                w.Write((long)bytes.Length);
                uint[] crcs = BlockChecksums(bytes);
                w.Write(crcs.Length);
                foreach (uint crc in crcs)
                {
                    w.Write(crc);
                }
            }

            w.Write(content.Scalars.Count);
            foreach (var (name, value) in content.Scalars)
            {
                w.Write(name);
                w.Write(BitConverter.DoubleToInt64Bits(value));
            }

            w.Write(Crc32C.Compute(header.GetBuffer().AsSpan(0, (int)header.Length)));
        }

        return header.ToArray();
    }

    /// <summary>Decodes a part and verifies its header and every block's CRC32C; throws <see cref="InvalidDataException"/> on damage.</summary>
    internal static LocalPart DecodePart(byte[] blob)
    {
        try
        {
            using var r = new BinaryReader(new MemoryStream(blob, writable: false), Encoding.UTF8);
            int rank = r.ReadInt32();
            long step = r.ReadInt64();
            int restartCount = r.ReadInt32();
            int count = r.ReadInt32();
            if (count is < 0 or > 1 << 16)
            {
                throw new InvalidDataException("damaged part header");
            }

            var specs = new List<(string Name, long Offset, long Count, int ElementBytes, long Length, uint[] Crcs)>();
            for (int i = 0; i < count; i++)
            {
                var (name, offset, elements, elementBytes, length, blocks) = (r.ReadString(), r.ReadInt64(), r.ReadInt64(), r.ReadInt32(), r.ReadInt64(), r.ReadInt32());
                if (blocks < 0 || blocks != (length + BlockBytes - 1) / BlockBytes)
                {
                    throw new InvalidDataException($"damaged part header of rank {rank} at '{name}'");
                }

                var crcs = new uint[blocks];
                for (int b = 0; b < blocks; b++)
                {
                    crcs[b] = r.ReadUInt32();
                }

                specs.Add((name, offset, elements, elementBytes, length, crcs));
            }

            int scalarCount = r.ReadInt32();
            if (scalarCount is < 0 or > 1 << 16)
            {
                throw new InvalidDataException("damaged part header");
            }

            var scalars = new List<(string, long)>();
            for (int i = 0; i < scalarCount; i++)
            {
                scalars.Add((r.ReadString(), r.ReadInt64()));
            }

            int headerLength = (int)r.BaseStream.Position;
            if (r.ReadUInt32() != Crc32C.Compute(blob.AsSpan(0, headerLength)))
            {
                throw new InvalidDataException($"checksum mismatch in the header of rank {rank}'s part");
            }

            int at = headerLength + 4;
            var arrays = new List<LocalPart.Array>();
            foreach (var s in specs)
            {
                if (s.Length < 0 || at + s.Length > blob.Length || s.Length != s.Count * s.ElementBytes)
                {
                    throw new InvalidDataException($"rank {rank}'s part is truncated at '{s.Name}'");
                }

                uint[] crcs = BlockChecksums(blob.AsSpan(at, (int)s.Length));
                for (int b = 0; b < crcs.Length; b++)
                {
                    if (crcs[b] != s.Crcs[b])
                    {
                        long first = (long)b * BlockBytes / Math.Max(1, s.ElementBytes);
                        throw new InvalidDataException($"checksum mismatch in '{s.Name}' of rank {rank}, block {b} (from local element {first}; stored {s.Crcs[b]:x8}, computed {crcs[b]:x8})");
                    }
                }

                arrays.Add(new LocalPart.Array(s.Name, s.Offset, s.Count, s.ElementBytes, at, (int)s.Length));
                at += (int)s.Length;
            }

            if (at != blob.Length)
            {
                throw new InvalidDataException($"rank {rank}'s part has {blob.Length - at} bytes too many");
            }

            return new LocalPart(rank, step, restartCount, arrays, scalars, blob);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException("a part is truncated");
        }
    }

    /// <summary>What a local-level file's header says.</summary>
    internal sealed record Header(string App, long Step, int RestartCount, int Size, int[] Ranks, string Parameters, string StateNames);

    /// <summary>
    /// Writes a whole file to <paramref name="path"/>: the header, then for each rank of <see cref="Header.Ranks"/> its
    /// part of <paramref name="partLengths"/>[i] bytes, written by <paramref name="writePart"/>(stream, i).
    /// </summary>
    internal static void Write(string path, Header header, long[] partLengths, Action<Stream, int> writePart)
    {
        using var head = new MemoryStream();
        using (var w = new BinaryWriter(head, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Encoding.ASCII.GetBytes(Magic));
            w.Write(header.App);
            w.Write(header.Step);
            w.Write(header.RestartCount);
            w.Write(header.Size);
            w.Write(header.Ranks.Length);
            foreach (int rank in header.Ranks)
            {
                w.Write(rank);
            }

            w.Write(header.Parameters);
            w.Write(header.StateNames);
            foreach (long length in partLengths)
            {
                w.Write(length);
            }
        }

        // OpenOrCreate, not Create: a recycled file is overwritten in place and cut to length at the end.
        using var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.None, bufferSize: 1);
        stream.Write(head.GetBuffer().AsSpan(0, (int)head.Length));
        stream.Write(BitConverter.GetBytes(Crc32C.Compute(head.GetBuffer().AsSpan(0, (int)head.Length))));
        for (int i = 0; i < partLengths.Length; i++)
        {
            long before = stream.Position;
            writePart(stream, i);
            if (stream.Position - before != partLengths[i])
            {
                throw new InvalidOperationException($"the part of rank {header.Ranks[i]} has {stream.Position - before} bytes, not {partLengths[i]}");
            }
        }

        stream.SetLength(stream.Position); // a recycled file may have been longer
    }

    /// <summary>
    /// Reads a whole file, checks its header checksum and (with <paramref name="verify"/>) every part's checksums.
    /// Returns the header and each part's bytes, in the order of <see cref="Header.Ranks"/>. Throws
    /// <see cref="InvalidDataException"/> (damage) or <see cref="IOException"/>.
    /// </summary>
    internal static (Header Header, byte[][] Parts) Read(string path, bool verify)
    {
        byte[] bytes = File.ReadAllBytes(path);
        try
        {
            using var r = new BinaryReader(new MemoryStream(bytes, writable: false), Encoding.UTF8);
            if (Encoding.ASCII.GetString(r.ReadBytes(Magic.Length)) != Magic)
            {
                throw new InvalidDataException("not a Coordinated local-level file (bad magic)");
            }

            string app = r.ReadString();
            long step = r.ReadInt64();
            int restartCount = r.ReadInt32();
            int size = r.ReadInt32();
            int n = r.ReadInt32();
            if (n is < 1 or > 1 << 24)
            {
                throw new InvalidDataException("damaged header");
            }

            int[] ranks = new int[n];
            for (int i = 0; i < n; i++)
            {
                ranks[i] = r.ReadInt32();
            }

            string parameters = r.ReadString();
            string names = r.ReadString();
            long[] lengths = new long[n];
            for (int i = 0; i < n; i++)
            {
                lengths[i] = r.ReadInt64();
            }

            int headerLength = (int)r.BaseStream.Position;
            if (r.ReadUInt32() != Crc32C.Compute(bytes.AsSpan(0, headerLength)))
            {
                throw new InvalidDataException("checksum mismatch in the file header");
            }

            long at = headerLength + 4;
            var parts = new byte[n][];
            for (int i = 0; i < n; i++)
            {
                if (lengths[i] < 0 || at + lengths[i] > bytes.Length)
                {
                    throw new InvalidDataException($"truncated: the part of rank {ranks[i]} is missing ({bytes.Length} bytes in the file)");
                }

                parts[i] = bytes.AsSpan((int)at, (int)lengths[i]).ToArray();
                at += lengths[i];
                if (verify && DecodePart(parts[i]) is { } part && (part.Rank != ranks[i] || part.Step != step))
                {
                    throw new InvalidDataException($"the part of rank {ranks[i]} holds rank {part.Rank}, step {part.Step}");
                }
            }

            if (at != bytes.Length)
            {
                throw new InvalidDataException($"{bytes.Length - at} bytes after the last part");
            }

            return (new Header(app, step, restartCount, size, ranks, parameters, names), parts);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"truncated ({bytes.Length} bytes)");
        }
    }
}

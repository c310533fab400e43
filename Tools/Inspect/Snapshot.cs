using System.Globalization;
using System.Runtime.InteropServices;
using Coordinated.Checkpointing;
using PureHDF;
using PureHDF.Selections;
using PureHDF.VOL.Native;

namespace Coordinated.Inspect;

/// <summary>A file that is not a readable Coordinated snapshot; the message says what is wrong with it.</summary>
/// <param name="message">What is wrong.</param>
/// <param name="notASnapshot">
/// True when the file was never a snapshot (not HDF5, or HDF5 without our <c>format</c>, under a name that is not a
/// committed snapshot's): bad input (exit 64) rather than damaged data (exit 65).
/// </param>
internal sealed class SnapshotException(string message, bool notASnapshot = false) : Exception(message)
{
    internal bool NotASnapshot { get; } = notASnapshot;

    /// <summary>The file disappeared between listing the directory and opening it: not damage.</summary>
    internal bool Vanished { get; init; }
}

/// <summary>One <c>/state</c> dataset: name, element type and shape.</summary>
/// <param name="Name">Name under <c>/state</c>.</param>
/// <param name="Type">Element type as numpy spells it (<c>float64</c>, <c>int64</c>, <c>uint8</c> ...).</param>
/// <param name="ValueSize">Bytes per value.</param>
/// <param name="Count">First dimension: elements.</param>
/// <param name="Components">Second dimension, 1 for a one-dimensional dataset.</param>
internal sealed record StateDataset(string Name, string Type, int ValueSize, long Count, int Components)
{
    internal long Bytes => Count * Components * ValueSize;

    internal string Shape => Components == 1 && !TwoDimensional ? $"[{Count}]" : $"[{Count}, {Components}]";

    internal bool TwoDimensional { get; init; }

    internal XdmfArray ToXdmf() => new(Name, Type.StartsWith("float", StringComparison.Ordinal) ? "Float" : Type.StartsWith('u') ? "UInt" : "Int", ValueSize, Count, Components);
}

/// <summary>
/// A snapshot file read with PureHDF (managed code: no native HDF5, no MPI), so it is also an independent check of
/// what the runtime's native writer produced. Holds the file open; dispose it.
/// </summary>
internal sealed class Snapshot : IDisposable
{
    internal const string Format = "coordinated-checkpoint";
    internal const long KnownFormatVersion = 1;

    private readonly NativeFile _file;

    private Snapshot(string path, NativeFile file)
    {
        Path = path;
        _file = file;
    }

    internal string Path { get; }

    internal string Name => System.IO.Path.GetFileName(Path);

    /// <summary>File size when it was opened (a running run's retention may delete the file while it is read).</summary>
    internal long Size { get; private set; }

    /// <summary>Root attributes, as strings, longs or doubles.</summary>
    internal IReadOnlyDictionary<string, object> Attributes { get; private set; } = new Dictionary<string, object>();

    internal IReadOnlyList<StateDataset> State { get; private set; } = [];

    /// <summary><c>/params</c> attributes (what must be equal for a restart).</summary>
    internal IReadOnlyDictionary<string, object> Parameters { get; private set; } = new Dictionary<string, object>();

    /// <summary><c>/scalars</c> attributes (restored on restart).</summary>
    internal IReadOnlyDictionary<string, object> Scalars { get; private set; } = new Dictionary<string, object>();

    internal string App => Text("app") ?? "?";

    internal long Step => Number("step") ?? -1;

    internal long Ranks => Number("ranks") ?? 0;

    internal string Trigger => Text("trigger") ?? "?";

    internal string? CreatedUtc => Text("created_utc");

    internal long RestartCount => Number("restart_count") ?? 0;

    /// <summary>Host names in rank order (root attribute <c>hosts</c>, absent in older snapshots).</summary>
    internal IReadOnlyList<string>? Hosts => Text("hosts")?.Split(',', StringSplitOptions.TrimEntries);

    internal string? Text(string name) => Attributes.TryGetValue(name, out object? v) && v is string s ? s : null;

    internal long? Number(string name) => Attributes.TryGetValue(name, out object? v) && v is long l ? l : null;

    /// <summary>
    /// Opens <paramref name="path"/> and reads its attributes and the shapes of <c>/state</c>. Throws
    /// <see cref="SnapshotException"/> when it is not an HDF5 file, not a Coordinated snapshot, or damaged.
    /// </summary>
    internal static Snapshot Open(string path)
    {
        if (Directory.Exists(path))
        {
            throw new SnapshotException($"{path} is a directory, not a snapshot file");
        }

        if (!File.Exists(path))
        {
            throw new SnapshotException($"{path} does not exist (deleted while inspect read the directory?)") { Vanished = true };
        }

        bool committedName = Verifier.CommittedPattern().IsMatch(System.IO.Path.GetFileName(path));
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (FileNotFoundException)
        {
            throw new SnapshotException($"{path} was deleted while inspect read the directory (a running run's retention?)") { Vanished = true };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SnapshotException($"{path} cannot be opened: {e.Message}", notASnapshot: !committedName);
        }

        long size = stream.Length;
        if (!HasHdf5Signature(stream))
        {
            stream.Dispose();
            throw new SnapshotException(
                committedName
                    ? $"{path} has no HDF5 signature: its first bytes are damaged or it was overwritten"
                    : $"{path} is not an HDF5 file, so not a Coordinated snapshot (give a ckpt-<step>.h5 file or a checkpoint directory)",
                notASnapshot: !committedName);
        }

        NativeFile file;
        try
        {
            stream.Position = 0;
            file = H5File.Open(stream, leaveOpen: false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            stream.Dispose();
            throw new SnapshotException($"{path} is not a readable HDF5 file: {e.Message}");
        }

        var snapshot = new Snapshot(path, file);
        try
        {
            snapshot.Size = size;
            snapshot.Load(committedName);
            return snapshot;
        }
        catch (SnapshotException)
        {
            snapshot.Dispose();
            throw;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            snapshot.Dispose();
            throw new SnapshotException($"{path}: damaged or unreadable HDF5 structure: {e.Message}");
        }
    }

    /// <summary>HDF5's 8-byte signature at offset 0, 512, 1024, 2048 ... (where a user block may move it).</summary>
    private static bool HasHdf5Signature(FileStream stream)
    {
        ReadOnlySpan<byte> signature = [0x89, (byte)'H', (byte)'D', (byte)'F', 0x0d, 0x0a, 0x1a, 0x0a];
        Span<byte> buffer = stackalloc byte[8];
        for (long offset = 0; offset + 8 <= stream.Length; offset = offset == 0 ? 512 : offset * 2)
        {
            stream.Position = offset;
            stream.ReadExactly(buffer);
            if (buffer.SequenceEqual(signature))
            {
                return true;
            }
        }

        return false;
    }

    private void Load(bool committedName)
    {
        Attributes = ReadAttributes(_file);
        if (Text("format") != Format)
        {
            throw new SnapshotException(
                $"{Path} is an HDF5 file but not a Coordinated snapshot (root attribute 'format' is {Describe(Attributes.GetValueOrDefault("format"))}, not '{Format}')",
                notASnapshot: !committedName);
        }

        if (Number("format_version") is not long version || version > KnownFormatVersion)
        {
            throw new SnapshotException(
                $"{Path} has format_version {Describe(Attributes.GetValueOrDefault("format_version"))}; this inspect knows versions up to {KnownFormatVersion}: use the inspect of the runtime that wrote it");
        }

        var state = new List<StateDataset>();
        if (_file.LinkExists("state"))
        {
            foreach (IH5Object child in _file.Group("state").Children())
            {
                if (child is IH5Dataset dataset)
                {
                    state.Add(Describe(child.Name, dataset));
                }
            }
        }

        State = state;
        Parameters = _file.LinkExists("params") ? ReadAttributes(_file.Group("params")) : new Dictionary<string, object>();
        Scalars = _file.LinkExists("scalars") ? ReadAttributes(_file.Group("scalars")) : new Dictionary<string, object>();
    }

    private static StateDataset Describe(string name, IH5Dataset dataset)
    {
        ulong[] dims = dataset.Space.Dimensions;
        int size = (int)dataset.Type.Size;
        string type = dataset.Type.Class switch
        {
            H5DataTypeClass.FloatingPoint => $"float{size * 8}",
            H5DataTypeClass.FixedPoint => dataset.Type.FixedPoint.IsSigned ? $"int{size * 8}" : $"uint{size * 8}",
            var other => throw new SnapshotException($"/state/{name} has element type {other}; snapshots hold only numbers"),
        };
        if (dims.Length is < 1 or > 2)
        {
            throw new SnapshotException($"/state/{name} has {dims.Length} dimensions; snapshots hold [N] or [N, components]");
        }

        return new StateDataset(name, type, size, (long)dims[0], dims.Length == 2 ? (int)dims[1] : 1) { TwoDimensional = dims.Length == 2 };
    }

    private static Dictionary<string, object> ReadAttributes(IH5Object owner)
    {
        var result = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (IH5Attribute attribute in owner.Attributes())
        {
            result[attribute.Name] = attribute.Type.Class switch
            {
                H5DataTypeClass.String or H5DataTypeClass.VariableLength => attribute.Read<string>(),
                H5DataTypeClass.FloatingPoint => attribute.Read<double>(),
                H5DataTypeClass.FixedPoint => attribute.Read<long>(),
                var other => $"<{other}>",
            };
        }

        return result;
    }

    /// <summary>The raw little-endian bytes of <c>/state/NAME</c> (row-major), what the checksums cover.</summary>
    internal byte[] ReadBytes(StateDataset dataset) => ReadBytes(dataset, 0, dataset.Count);

    /// <summary>
    /// The raw little-endian bytes of elements [<paramref name="first"/>, first + <paramref name="count"/>) of
    /// <c>/state/NAME</c> (a hyperslab: memory stays bounded by the block, not the dataset).
    /// </summary>
    internal byte[] ReadBytes(StateDataset dataset, long first, long count)
    {
        IH5Dataset h5 = _file.Dataset($"/state/{dataset.Name}");
        ulong values = checked((ulong)(count * dataset.Components));
        var selection = dataset.TwoDimensional
            ? new HyperslabSelection(2, [(ulong)first, 0], [(ulong)count, (ulong)dataset.Components])
            : new HyperslabSelection((ulong)first, (ulong)count);
        ulong[] memory = [values];
        return dataset.Type switch
        {
            "float64" => MemoryMarshal.AsBytes(h5.Read<double[]>(selection, null, memory).AsSpan()).ToArray(),
            "float32" => MemoryMarshal.AsBytes(h5.Read<float[]>(selection, null, memory).AsSpan()).ToArray(),
            "int64" => MemoryMarshal.AsBytes(h5.Read<long[]>(selection, null, memory).AsSpan()).ToArray(),
            "int32" => MemoryMarshal.AsBytes(h5.Read<int[]>(selection, null, memory).AsSpan()).ToArray(),
            "uint64" => MemoryMarshal.AsBytes(h5.Read<ulong[]>(selection, null, memory).AsSpan()).ToArray(),
            "uint32" => MemoryMarshal.AsBytes(h5.Read<uint[]>(selection, null, memory).AsSpan()).ToArray(),
            "uint8" => h5.Read<byte[]>(selection, null, memory),
            _ => throw new SnapshotException($"/state/{dataset.Name}: element type {dataset.Type} is not one the runtime writes"),
        };
    }

    /// <summary>Rows <c>(first, count, crc)</c> of <c>/checksums/NAME</c>, or null when that dataset is missing.</summary>
    internal (long First, long Count, uint Crc)[]? ReadChecksums(string name)
    {
        if (!_file.LinkExists("checksums") || !_file.Group("checksums").LinkExists(name))
        {
            return null;
        }

        IH5Dataset h5 = _file.Dataset($"/checksums/{name}");
        ulong[] dims = h5.Space.Dimensions;
        if (dims.Length != 2 || dims[1] != 3 || h5.Type.Class != H5DataTypeClass.FixedPoint || h5.Type.Size != 8)
        {
            throw new SnapshotException($"/checksums/{name} has shape [{string.Join(", ", dims)}] of {h5.Type.Class}; expected int64 [B, 3]");
        }

        long[] flat = h5.Read<long[]>();
        var rows = new (long, long, uint)[flat.Length / 3];
        for (int i = 0; i < rows.Length; i++)
        {
            rows[i] = (flat[3 * i], flat[3 * i + 1], unchecked((uint)flat[3 * i + 2]));
        }

        return rows;
    }

    internal static string Describe(object? value) => value switch
    {
        null => "missing",
        string s => $"'{s}'",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    public void Dispose() => _file.Dispose();
}

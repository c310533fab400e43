using System.Runtime.InteropServices;
using static Coordinated.Interop.Hdf5;

namespace Coordinated.Checkpointing;

/// <summary>A registered, partitioned global array: this rank's slice of <c>/state/&lt;name&gt;</c>.</summary>
internal abstract class StateArray
{
    protected StateArray(string name, int components, long globalOffset, long localCount, long globalCount)
    {
        Name = name;
        Components = components;
        GlobalOffset = globalOffset;
        LocalCount = localCount;
        GlobalCount = globalCount;
    }

    internal string Name { get; }

    /// <summary>Values per element (3 for a position vector); the dataset is [GlobalCount, Components].</summary>
    internal int Components { get; }

    internal long GlobalOffset { get; }

    internal long LocalCount { get; }

    internal long GlobalCount { get; }

    /// <summary>Every rank's (offset, count), in rank order.</summary>
    internal (long Offset, long Count)[] Partition { get; set; } = [];

    internal abstract int ValueSize { get; }

    internal int ElementBytes => ValueSize * Components;

    /// <summary>HDF5 type class of the values (H5T_INTEGER or H5T_FLOAT).</summary>
    internal abstract int TypeClass { get; }

    internal abstract long MemoryType { get; }

    internal abstract long FileType { get; }

    internal abstract string TypeName { get; }

    /// <summary>The local slice as bytes (the caller pins it for native calls).</summary>
    internal abstract Span<byte> Bytes { get; }

    /// <summary>
    /// A copy of this slice as it is now, in <paramref name="buffer"/> (reused when its size matches), for a snapshot
    /// that is written while the app goes on changing the original.
    /// </summary>
    internal StateArray Stage(ref byte[]? buffer)
    {
        Span<byte> bytes = Bytes;
        if (buffer is null || buffer.Length != bytes.Length)
        {
            buffer = GC.AllocateUninitializedArray<byte>(bytes.Length, pinned: true);
        }

        bytes.CopyTo(buffer);
        return new StagedArray(this, buffer);
    }
}

/// <summary>A staged copy of a <see cref="StateArray"/>: same name, shape, type and partition; its own bytes.</summary>
internal sealed class StagedArray : StateArray
{
    private readonly StateArray _source;
    private readonly byte[] _bytes;

    internal StagedArray(StateArray source, byte[] bytes)
        : base(source.Name, source.Components, source.GlobalOffset, source.LocalCount, source.GlobalCount)
    {
        _source = source;
        _bytes = bytes;
        Partition = source.Partition;
    }

    internal override int ValueSize => _source.ValueSize;

    internal override int TypeClass => _source.TypeClass;

    internal override long MemoryType => _source.MemoryType;

    internal override long FileType => _source.FileType;

    internal override string TypeName => _source.TypeName;

    internal override Span<byte> Bytes => _bytes;
}

internal sealed class StateArray<T> : StateArray where T : unmanaged
{
    private readonly Memory<T> _data;

    internal StateArray(string name, Memory<T> data, int components, long globalOffset, long globalCount)
        : base(name, components, globalOffset, data.Length / components, globalCount)
    {
        _data = data;
    }

    internal override unsafe int ValueSize => sizeof(T);

    internal override int TypeClass => typeof(T) == typeof(double) || typeof(T) == typeof(float) ? H5T_FLOAT : H5T_INTEGER;

    internal override long MemoryType =>
        typeof(T) == typeof(double) ? Ids.NativeDouble
        : typeof(T) == typeof(float) ? Ids.NativeFloat
        : typeof(T) == typeof(long) ? Ids.NativeInt64
        : typeof(T) == typeof(int) ? Ids.NativeInt32
        : Ids.NativeUInt8;

    internal override long FileType =>
        typeof(T) == typeof(double) ? Ids.IeeeF64LE
        : typeof(T) == typeof(float) ? Ids.IeeeF32LE
        : typeof(T) == typeof(long) ? Ids.StdI64LE
        : typeof(T) == typeof(int) ? Ids.StdI32LE
        : Ids.StdU8LE;

    internal override string TypeName => typeof(T).Name.ToLowerInvariant();

    internal override Span<byte> Bytes => MemoryMarshal.AsBytes(_data.Span);

    internal static bool IsSupported =>
        typeof(T) == typeof(double) || typeof(T) == typeof(float) || typeof(T) == typeof(long)
        || typeof(T) == typeof(int) || typeof(T) == typeof(byte);
}

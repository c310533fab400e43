using System.Runtime.CompilerServices;
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

    internal long GlobalOffset { get; private protected set; }

    internal long LocalCount { get; private protected set; }

    internal long GlobalCount { get; private protected set; }

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

/// <summary>
/// A registered array of <typeparamref name="T"/>: a supported primitive (double, float, long, ulong, int, uint, byte,
/// bool) or an unmanaged struct whose fields, flattened, are all one of them with no padding (such as
/// <c>struct Vec3 { double X, Y, Z; }</c>, stored as 3 components of double).
/// </summary>
internal sealed class StateArray<T> : StateArray where T : unmanaged
{
    private static readonly (Type Field, int Count)? Layout = ElementLayout.Of(typeof(T), Unsafe.SizeOf<T>());
    private readonly Memory<T> _data;

    internal StateArray(string name, Memory<T> data, int components, long globalOffset, long globalCount)
        : base(name, components * Layout!.Value.Count, globalOffset, data.Length / components, globalCount)
    {
        _data = data;
    }

    internal override int ValueSize => ElementLayout.SizeOf(Layout!.Value.Field);

    internal override int TypeClass => Layout!.Value.Field == typeof(double) || Layout.Value.Field == typeof(float) ? H5T_FLOAT : H5T_INTEGER;

    internal override long MemoryType => ElementLayout.MemoryType(Layout!.Value.Field);

    internal override long FileType => ElementLayout.FileType(Layout!.Value.Field);

    internal override string TypeName => Layout!.Value.Count == 1 ? Layout.Value.Field.Name.ToLowerInvariant() : $"{typeof(T).Name} ({Layout.Value.Count} x {Layout.Value.Field.Name.ToLowerInvariant()})";

    internal override Span<byte> Bytes => MemoryMarshal.AsBytes(_data.Span);

    internal static bool IsSupported => Layout is not null;
}

/// <summary>How an element type maps onto HDF5: its primitive field type and how many of them one element holds.</summary>
internal static class ElementLayout
{
    private static readonly Type[] Primitives = [typeof(double), typeof(float), typeof(long), typeof(ulong), typeof(int), typeof(uint), typeof(byte), typeof(bool)];

    /// <summary>The primitive and count of <paramref name="type"/> (of <paramref name="size"/> bytes), or null if it is not supported.</summary>
    internal static (Type Field, int Count)? Of(Type type, int size)
    {
        var fields = new List<Type>();
        if (!Flatten(type, fields, depth: 0) || fields.Count == 0 || fields.Any(f => f != fields[0]) || fields.Count * SizeOf(fields[0]) != size)
        {
            return null;
        }

        return (fields[0], fields.Count);
    }

    internal static int SizeOf(Type primitive) =>
        primitive == typeof(double) || primitive == typeof(long) || primitive == typeof(ulong) ? 8
        : primitive == typeof(float) || primitive == typeof(int) || primitive == typeof(uint) ? 4
        : 1;

    internal static long MemoryType(Type t) =>
        t == typeof(double) ? Ids.NativeDouble
        : t == typeof(float) ? Ids.NativeFloat
        : t == typeof(long) ? Ids.NativeInt64
        : t == typeof(ulong) ? Ids.NativeUInt64
        : t == typeof(int) ? Ids.NativeInt32
        : t == typeof(uint) ? Ids.NativeUInt32
        : Ids.NativeUInt8; // byte, bool (stored as 0 or 1)

    internal static long FileType(Type t) =>
        t == typeof(double) ? Ids.IeeeF64LE
        : t == typeof(float) ? Ids.IeeeF32LE
        : t == typeof(long) ? Ids.StdI64LE
        : t == typeof(ulong) ? Ids.StdU64LE
        : t == typeof(int) ? Ids.StdI32LE
        : t == typeof(uint) ? Ids.StdU32LE
        : Ids.StdU8LE;

    private static bool Flatten(Type type, List<Type> into, int depth)
    {
        if (Primitives.Contains(type))
        {
            into.Add(type);
            return true;
        }

        if (!type.IsValueType || type.IsPrimitive || type.IsEnum || depth > 8)
        {
            return false;
        }

        foreach (var field in type.GetFields(System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic))
        {
            if (!Flatten(field.FieldType, into, depth + 1))
            {
                return false;
            }
        }

        return true;
    }
}

using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Coordinated.Checkpointing;

/// <summary>
/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum used by iSCSI, ext4 and SCTP.
/// Uses the SSE4.2 <c>crc32</c> instruction where available, a slicing-by-8 table otherwise. The loops are compiled
/// fully optimised from the first call (checkpoints are rare: tier-0 code would make the first ones several times slower).
/// </summary>
public static class Crc32C
{
    private const uint Polynomial = 0x82F63B78u;
    private static readonly uint[] s_table = BuildTable();

    /// <summary>CRC-32C of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

    /// <summary>
    /// Continues a CRC over more data: <c>Append(Compute(a), b) == Compute(a ++ b)</c>.
    /// </summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        uint state = ~crc;
        state = Sse42.X64.IsSupported ? UpdateSse42(state, data) : UpdateTable(state, data);
        return ~state;
    }

    /// <summary>
    /// CRC-32C of three equally long buffers at once. The <c>crc32</c> instruction has a latency of three cycles and
    /// a throughput of one per cycle, so three independent streams run about three times as fast as one.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static (uint A, uint B, uint C) Compute3(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, ReadOnlySpan<byte> c)
    {
        if (a.Length != b.Length || a.Length != c.Length)
        {
            throw new ArgumentException("the three buffers must have the same length");
        }

        if (!Sse42.X64.IsSupported)
        {
            return (Compute(a), Compute(b), Compute(c));
        }

        ulong x = uint.MaxValue, y = uint.MaxValue, z = uint.MaxValue;
        int i = 0;
        for (; i + 8 <= a.Length; i += 8)
        {
            x = Sse42.X64.Crc32(x, BinaryPrimitives.ReadUInt64LittleEndian(a[i..]));
            y = Sse42.X64.Crc32(y, BinaryPrimitives.ReadUInt64LittleEndian(b[i..]));
            z = Sse42.X64.Crc32(z, BinaryPrimitives.ReadUInt64LittleEndian(c[i..]));
        }

        return (~UpdateSse42((uint)x, a[i..]), ~UpdateSse42((uint)y, b[i..]), ~UpdateSse42((uint)z, c[i..]));
    }

    internal static uint AppendSoftware(uint crc, ReadOnlySpan<byte> data) => ~UpdateTable(~crc, data);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static uint UpdateSse42(uint state, ReadOnlySpan<byte> data)
    {
        ulong wide = state;
        while (data.Length >= 32)
        {
            wide = Sse42.X64.Crc32(wide, BinaryPrimitives.ReadUInt64LittleEndian(data));
            wide = Sse42.X64.Crc32(wide, BinaryPrimitives.ReadUInt64LittleEndian(data[8..]));
            wide = Sse42.X64.Crc32(wide, BinaryPrimitives.ReadUInt64LittleEndian(data[16..]));
            wide = Sse42.X64.Crc32(wide, BinaryPrimitives.ReadUInt64LittleEndian(data[24..]));
            data = data[32..];
        }

        while (data.Length >= 8)
        {
            wide = Sse42.X64.Crc32(wide, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }

        uint narrow = (uint)wide;
        foreach (byte b in data)
        {
            narrow = Sse42.Crc32(narrow, b);
        }

        return narrow;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static uint UpdateTable(uint state, ReadOnlySpan<byte> data)
    {
        uint[] t = s_table;
        while (data.Length >= 8)
        {
            uint lo = BinaryPrimitives.ReadUInt32LittleEndian(data) ^ state;
            uint hi = BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
            state = t[(7 * 256) + (lo & 0xFF)] ^ t[(6 * 256) + ((lo >> 8) & 0xFF)]
                  ^ t[(5 * 256) + ((lo >> 16) & 0xFF)] ^ t[(4 * 256) + (lo >> 24)]
                  ^ t[(3 * 256) + (hi & 0xFF)] ^ t[(2 * 256) + ((hi >> 8) & 0xFF)]
                  ^ t[256 + ((hi >> 16) & 0xFF)] ^ t[hi >> 24];
            data = data[8..];
        }

        foreach (byte b in data)
        {
            state = t[(state ^ b) & 0xFF] ^ (state >> 8);
        }

        return state;
    }

    private static uint[] BuildTable()
    {
        var table = new uint[8 * 256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? (c >> 1) ^ Polynomial : c >> 1;
            }

            table[i] = c;
        }

        for (int slice = 1; slice < 8; slice++)
        {
            for (int i = 0; i < 256; i++)
            {
                uint previous = table[((slice - 1) * 256) + i];
                table[(slice * 256) + i] = (previous >> 8) ^ table[previous & 0xFF];
            }
        }

        return table;
    }
}

using System.Runtime.InteropServices;

namespace Coordinated;

/// <summary>Raw parallel HDF5 1.10 entry points (hid_t = long, herr_t = int, hsize_t = ulong).</summary>
internal static partial class Interop
{
    internal static unsafe partial class Hdf5
    {
        internal const long H5P_DEFAULT = 0;
        internal const long H5E_DEFAULT = 0;
        internal const uint H5F_ACC_RDONLY = 0x0000;
        internal const uint H5F_ACC_RDWR = 0x0001;
        internal const uint H5F_ACC_EXCL = 0x0004;
        internal const int H5S_SELECT_SET = 0;
        internal const int H5FD_MPIO_INDEPENDENT = 0;
        internal const int H5FD_MPIO_COLLECTIVE = 1;
        internal const int H5F_LIBVER_V110 = 2;
        internal const int H5D_ALLOC_TIME_EARLY = 1;
        internal const int H5D_FILL_TIME_NEVER = 1;
        internal const int H5T_INTEGER = 0;
        internal const int H5T_FLOAT = 1;
        internal const int H5T_STRING = 3;
        internal const int H5T_CSET_UTF8 = 1;
        internal static readonly nuint H5T_VARIABLE = nuint.MaxValue;
        internal const int H5E_WALK_DOWNWARD = 1;

        /// <summary>Predefined ids; valid only after <see cref="H5open"/>.</summary>
        internal static class Ids
        {
            internal static long FileAccess => Read("H5P_CLS_FILE_ACCESS_ID_g");
            internal static long DatasetCreate => Read("H5P_CLS_DATASET_CREATE_ID_g");
            internal static long DatasetXfer => Read("H5P_CLS_DATASET_XFER_ID_g");
            internal static long NativeDouble => Read("H5T_NATIVE_DOUBLE_g");
            internal static long NativeFloat => Read("H5T_NATIVE_FLOAT_g");
            internal static long NativeInt64 => Read("H5T_NATIVE_LLONG_g");
            internal static long NativeInt32 => Read("H5T_NATIVE_INT_g");
            internal static long NativeUInt8 => Read("H5T_NATIVE_UCHAR_g");
            internal static long NativeUInt64 => Read("H5T_NATIVE_ULLONG_g");
            internal static long NativeUInt32 => Read("H5T_NATIVE_UINT_g");
            internal static long IeeeF64LE => Read("H5T_IEEE_F64LE_g");
            internal static long IeeeF32LE => Read("H5T_IEEE_F32LE_g");
            internal static long StdI64LE => Read("H5T_STD_I64LE_g");
            internal static long StdI32LE => Read("H5T_STD_I32LE_g");
            internal static long StdU8LE => Read("H5T_STD_U8LE_g");
            internal static long StdU64LE => Read("H5T_STD_U64LE_g");
            internal static long StdU32LE => Read("H5T_STD_U32LE_g");
            internal static long CS1 => Read("H5T_C_S1_g");

            private static long Read(string symbol) => *(long*)Libraries.Export(Libraries.Hdf5Handle, symbol);
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct H5E_error2_t
        {
            internal long cls_id;
            internal long maj_num;
            internal long min_num;
            internal uint line;
            internal byte* func_name;
            internal byte* file_name;
            internal byte* desc;
        }

        [LibraryImport(Libraries.Hdf5)] internal static partial int H5open();
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5free_memory(void* mem);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Eset_auto2(long estack, void* func, void* clientData);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Ewalk2(long estack, int direction, delegate* unmanaged<uint, H5E_error2_t*, void*, int> func, void* clientData);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Eclear2(long estack);

        [LibraryImport(Libraries.Hdf5, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial long H5Fcreate(string name, uint flags, long fcpl, long fapl);
        [LibraryImport(Libraries.Hdf5, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial long H5Fopen(string name, uint flags, long fapl);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Fclose(long file);

        [LibraryImport(Libraries.Hdf5)] internal static partial long H5Pcreate(long cls);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Pclose(long plist);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Pset_fapl_mpio(long fapl, nint comm, nint info);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Pset_dxpl_mpio(long dxpl, int mode);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Pset_libver_bounds(long fapl, int low, int high);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Pset_alignment(long fapl, ulong threshold, ulong alignment);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Pset_fill_time(long dcpl, int fillTime);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Pset_alloc_time(long dcpl, int allocTime);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Pset_coll_metadata_write(long fapl, byte isCollective);

        internal const int H5S_SCALAR = 0;
        [LibraryImport(Libraries.Hdf5)] internal static partial long H5Screate(int type);
        [LibraryImport(Libraries.Hdf5)] internal static partial long H5Screate_simple(int rank, ulong* dims, ulong* maxdims);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Sclose(long space);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Sselect_hyperslab(long space, int op, ulong* start, ulong* stride, ulong* count, ulong* block);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Sselect_none(long space);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Sget_simple_extent_ndims(long space);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Sget_simple_extent_dims(long space, ulong* dims, ulong* maxdims);

        [LibraryImport(Libraries.Hdf5, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial long H5Dcreate2(long loc, string name, long type, long space, long lcpl, long dcpl, long dapl);
        [LibraryImport(Libraries.Hdf5, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial long H5Dopen2(long loc, string name, long dapl);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Dclose(long dataset);
        [LibraryImport(Libraries.Hdf5)] internal static partial ulong H5Dget_offset(long dataset);
        [LibraryImport(Libraries.Hdf5)] internal static partial long H5Dget_space(long dataset);
        [LibraryImport(Libraries.Hdf5)] internal static partial long H5Dget_type(long dataset);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Dwrite(long dataset, long memType, long memSpace, long fileSpace, long xfer, void* buf);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Dread(long dataset, long memType, long memSpace, long fileSpace, long xfer, void* buf);

        [LibraryImport(Libraries.Hdf5, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial long H5Gcreate2(long loc, string name, long lcpl, long gcpl, long gapl);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Gclose(long group);
        [LibraryImport(Libraries.Hdf5, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int H5Lexists(long loc, string name, long lapl);

        [LibraryImport(Libraries.Hdf5, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial long H5Oopen(long loc, string name, long lapl);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Oclose(long obj);

        [LibraryImport(Libraries.Hdf5)] internal static partial long H5Tcopy(long type);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Tclose(long type);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Tset_size(long type, nuint size);
        [LibraryImport(Libraries.Hdf5)] internal static partial nuint H5Tget_size(long type);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Tset_cset(long type, int cset);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Tget_class(long type);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Tis_variable_str(long type);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Tequal(long type1, long type2);

        [LibraryImport(Libraries.Hdf5, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial long H5Acreate2(long loc, string name, long type, long space, long acpl, long aapl);
        [LibraryImport(Libraries.Hdf5, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial long H5Aopen(long obj, string name, long aapl);
        [LibraryImport(Libraries.Hdf5, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int H5Aexists(long obj, string name);
        [LibraryImport(Libraries.Hdf5, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int H5Adelete(long obj, string name);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Aclose(long attr);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Awrite(long attr, long memType, void* buf);
        [LibraryImport(Libraries.Hdf5)] internal static partial int H5Aread(long attr, long memType, void* buf);
        [LibraryImport(Libraries.Hdf5)] internal static partial long H5Aget_type(long attr);
    }
}

using System.Runtime.InteropServices;
using System.Text;
using Coordinated.Hdf5;
using Coordinated.Mpi;
using static Coordinated.Interop.Hdf5;

namespace Coordinated.Checkpointing;

/// <summary>
/// One snapshot file opened collectively through MPI-IO. Layout (docs/FORMAT.md): root attributes, <c>/state/NAME</c>
/// datasets [N, components], <c>/checksums/NAME</c> int64 [B, 3] rows (offset, count, crc32c), <c>/params</c> and
/// <c>/scalars</c> attributes. Every method is collective unless it says otherwise; <see cref="Dispose"/> (H5Fclose) too.
/// </summary>
internal sealed unsafe class SnapshotFile : IDisposable
{
    /// <summary>Largest slice of a writer's data covered by one checksum row.</summary>
    internal const int ChecksumBlockBytes = 4 << 20;

    private readonly Communicator _comm;
    private readonly IoTuning _tuning;
    private long _file;

    private SnapshotFile(Communicator comm, long file, IoTuning tuning)
    {
        _comm = comm;
        _file = file;
        _tuning = tuning;
    }

    /// <summary>Creates <paramref name="path"/>, failing if it exists (O_EXCL: a planted symlink is never followed).</summary>
    internal static SnapshotFile Create(Communicator comm, string path, IoTuning tuning)
    {
        H5Library.EnsureInitialized();
        long fapl = CreateFileAccess(comm, tuning);
        try
        {
            return new SnapshotFile(comm, Hdf5Exception.Check(H5Fcreate(path, H5F_ACC_EXCL, H5P_DEFAULT, fapl)), tuning);
        }
        finally
        {
            H5Pclose(fapl);
        }
    }

    internal static SnapshotFile Open(Communicator comm, string path, IoTuning tuning)
    {
        H5Library.EnsureInitialized();
        long fapl = CreateFileAccess(comm, tuning);
        try
        {
            return new SnapshotFile(comm, Hdf5Exception.Check(H5Fopen(path, H5F_ACC_RDONLY, fapl)), tuning);
        }
        finally
        {
            H5Pclose(fapl);
        }
    }

    private static long CreateFileAccess(Communicator comm, IoTuning tuning)
    {
        long fapl = Hdf5Exception.Check(H5Pcreate(Ids.FileAccess));
        try
        {
            Hdf5Exception.Check(H5Pset_fapl_mpio(fapl, comm.Handle, Interop.Mpi.MPI_INFO_NULL));
            // v1.10 object headers and superblock carry checksums: damaged metadata is detected on open.
            Hdf5Exception.Check(H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110));
            if (tuning.AlignmentBytes > 0)
            {
                Hdf5Exception.Check(H5Pset_alignment(fapl, (ulong)tuning.AlignmentThresholdBytes, (ulong)tuning.AlignmentBytes));
            }

            Hdf5Exception.Check(H5Pset_coll_metadata_write(fapl, 1));
            return fapl;
        }
        catch
        {
            H5Pclose(fapl);
            throw;
        }
    }

    // ---------------------------------------------------------------- writing

    internal void CreateGroup(string path) => Hdf5Exception.Check(H5Gclose(Hdf5Exception.Check(H5Gcreate2(_file, path, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT))));

    internal void WriteAttribute(string objectPath, string name, object value)
    {
        long obj = OpenObject(objectPath);
        try
        {
            switch (value)
            {
                case string s:
                    WriteStringAttribute(obj, name, s);
                    break;
                case long l:
                    WriteScalarAttribute(obj, name, Ids.StdI64LE, Ids.NativeInt64, &l);
                    break;
                case int i:
                    long li = i;
                    WriteScalarAttribute(obj, name, Ids.StdI64LE, Ids.NativeInt64, &li);
                    break;
                case double d:
                    WriteScalarAttribute(obj, name, Ids.IeeeF64LE, Ids.NativeDouble, &d);
                    break;
                default:
                    throw new ArgumentException($"Attribute {name}: unsupported type {value.GetType().Name}.");
            }
        }
        finally
        {
            CloseObject(objectPath, obj);
        }
    }

    private static void WriteScalarAttribute(long obj, string name, long fileType, long memType, void* value)
    {
        long space = Hdf5Exception.Check(H5Screate(H5S_SCALAR));
        try
        {
            long attr = Hdf5Exception.Check(H5Acreate2(obj, name, fileType, space, H5P_DEFAULT, H5P_DEFAULT));
            try
            {
                Hdf5Exception.Check(H5Awrite(attr, memType, value));
            }
            finally
            {
                H5Aclose(attr);
            }
        }
        finally
        {
            H5Sclose(space);
        }
    }

    private static void WriteStringAttribute(long obj, string name, string value)
    {
        long type = Hdf5Exception.Check(H5Tcopy(Ids.CS1));
        long space = -1;
        try
        {
            Hdf5Exception.Check(H5Tset_size(type, H5T_VARIABLE));
            Hdf5Exception.Check(H5Tset_cset(type, H5T_CSET_UTF8));
            space = Hdf5Exception.Check(H5Screate(H5S_SCALAR));
            long attr = Hdf5Exception.Check(H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT));
            try
            {
                byte[] utf8 = new byte[Encoding.UTF8.GetByteCount(value) + 1];
                Encoding.UTF8.GetBytes(value, utf8);
                fixed (byte* p = utf8)
                {
                    byte* pointer = p;
                    Hdf5Exception.Check(H5Awrite(attr, type, &pointer));
                }
            }
            finally
            {
                H5Aclose(attr);
            }
        }
        finally
        {
            if (space >= 0)
            {
                H5Sclose(space);
            }

            H5Tclose(type);
        }
    }

    /// <summary>Writes this rank's slice of <paramref name="array"/> to /state/NAME with one collective transfer.</summary>
    /// <summary>
    /// Creates /state/NAME and writes this rank's rows. Returns the file offset of the rows this rank wrote
    /// (contiguous layout), or -1 where HDF5 cannot say.
    /// </summary>
    internal long WriteState(StateArray array, Span<byte> bytes)
    {
        ulong[] dims = Dimensions(array.GlobalCount, array.Components);
        long space = Hdf5Exception.Check(CreateSimple(dims));
        long dcpl = -1, dataset = -1;
        try
        {
            dcpl = Hdf5Exception.Check(H5Pcreate(Ids.DatasetCreate));
            Hdf5Exception.Check(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER));
            Hdf5Exception.Check(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY));
            dataset = Hdf5Exception.Check(H5Dcreate2(_file, "/state/" + array.Name, array.FileType, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
            TransferRows(dataset, space, array.MemoryType, dims, array.GlobalOffset, array.LocalCount, bytes, write: true, collective: _tuning.CollectiveData);
            ulong address = H5Dget_offset(dataset);
            return address == ulong.MaxValue ? -1 : (long)address + (array.GlobalOffset * array.ElementBytes);
        }
        finally
        {
            if (dataset >= 0)
            {
                H5Dclose(dataset);
            }

            if (dcpl >= 0)
            {
                H5Pclose(dcpl);
            }

            H5Sclose(space);
        }
    }

    /// <summary>Writes this rank's checksum rows at row <paramref name="firstRow"/> of /checksums/NAME [totalRows, 3].</summary>
    internal void WriteChecksums(string name, long[] rows, long firstRow, long totalRows)
    {
        ulong[] dims = [(ulong)totalRows, 3];
        long space = Hdf5Exception.Check(CreateSimple(dims));
        long dataset = -1;
        try
        {
            dataset = Hdf5Exception.Check(H5Dcreate2(_file, "/checksums/" + name, Ids.StdI64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
            TransferRows(dataset, space, Ids.NativeInt64, dims, firstRow, rows.Length / 3, MemoryMarshal.AsBytes(rows.AsSpan()), write: true, collective: true);
        }
        finally
        {
            if (dataset >= 0)
            {
                H5Dclose(dataset);
            }

            H5Sclose(space);
        }
    }

    // ---------------------------------------------------------------- reading

    internal bool HasAttribute(string objectPath, string name)
    {
        long obj = OpenObject(objectPath);
        try
        {
            return Hdf5Exception.Check(H5Aexists(obj, name)) > 0;
        }
        finally
        {
            CloseObject(objectPath, obj);
        }
    }

    internal bool Exists(string path) => Hdf5Exception.Check(H5Lexists(_file, path, H5P_DEFAULT)) > 0;

    /// <summary>Reads an attribute as string, long or double (whatever it is stored as); null when absent.</summary>
    internal object? ReadAttribute(string objectPath, string name)
    {
        long obj = OpenObject(objectPath);
        try
        {
            if (Hdf5Exception.Check(H5Aexists(obj, name)) == 0)
            {
                return null;
            }

            long attr = Hdf5Exception.Check(H5Aopen(obj, name, H5P_DEFAULT));
            long type = -1;
            try
            {
                type = Hdf5Exception.Check(H5Aget_type(attr));
                int typeClass = Hdf5Exception.Check(H5Tget_class(type));
                switch (typeClass)
                {
                    case H5T_INTEGER:
                        long l;
                        Hdf5Exception.Check(H5Aread(attr, Ids.NativeInt64, &l));
                        return l;
                    case H5T_FLOAT:
                        double d;
                        Hdf5Exception.Check(H5Aread(attr, Ids.NativeDouble, &d));
                        return d;
                    case H5T_STRING when Hdf5Exception.Check(H5Tis_variable_str(type)) > 0:
                        byte* p = null;
                        Hdf5Exception.Check(H5Aread(attr, type, &p));
                        string s = Marshal.PtrToStringUTF8((nint)p) ?? "";
                        H5free_memory(p);
                        return s;
                    case H5T_STRING:
                        int size = (int)H5Tget_size(type);
                        byte[] buffer = new byte[size];
                        fixed (byte* b = buffer)
                        {
                            Hdf5Exception.Check(H5Aread(attr, type, b));
                        }

                        return Encoding.UTF8.GetString(buffer).TrimEnd('\0', ' ');
                    default:
                        return $"(unsupported attribute type class {typeClass})";
                }
            }
            finally
            {
                if (type >= 0)
                {
                    H5Tclose(type);
                }

                H5Aclose(attr);
            }
        }
        finally
        {
            CloseObject(objectPath, obj);
        }
    }

    /// <summary>Shape and element type of a dataset: (dims, type class, value size in bytes).</summary>
    internal (ulong[] Dims, int TypeClass, int ValueSize) DescribeDataset(string path)
    {
        long dataset = Hdf5Exception.Check(H5Dopen2(_file, path, H5P_DEFAULT));
        long space = -1, type = -1;
        try
        {
            space = Hdf5Exception.Check(H5Dget_space(dataset));
            int rank = Hdf5Exception.Check(H5Sget_simple_extent_ndims(space));
            var dims = new ulong[rank];
            fixed (ulong* d = dims)
            {
                Hdf5Exception.Check(H5Sget_simple_extent_dims(space, d, null));
            }

            type = Hdf5Exception.Check(H5Dget_type(dataset));
            return (dims, Hdf5Exception.Check(H5Tget_class(type)), (int)H5Tget_size(type));
        }
        finally
        {
            if (type >= 0)
            {
                H5Tclose(type);
            }

            if (space >= 0)
            {
                H5Sclose(space);
            }

            H5Dclose(dataset);
        }
    }

    /// <summary>Reads elements [offset, offset+count) of a dataset into <paramref name="destination"/>.</summary>
    /// <remarks>Collective when <paramref name="collective"/>; otherwise independent (only this rank calls it).</remarks>
    internal void ReadRows(string path, long memType, int components, long totalRows, long offset, long count, Span<byte> destination, bool collective)
    {
        long dataset = Hdf5Exception.Check(H5Dopen2(_file, path, H5P_DEFAULT));
        long space = -1;
        try
        {
            space = Hdf5Exception.Check(H5Dget_space(dataset));
            TransferRows(dataset, space, memType, Dimensions(totalRows, components), offset, count, destination, write: false, collective);
        }
        finally
        {
            if (space >= 0)
            {
                H5Sclose(space);
            }

            H5Dclose(dataset);
        }
    }

    // ---------------------------------------------------------------- shared

    private static void TransferRows(long dataset, long fileSpace, long memType, ulong[] dims, long offset, long count, Span<byte> bytes, bool write, bool collective)
    {
        long memSpace = -1, xfer = -1;
        try
        {
            if (count > 0)
            {
                ulong[] start = new ulong[dims.Length];
                ulong[] extent = (ulong[])dims.Clone();
                start[0] = (ulong)offset;
                extent[0] = (ulong)count;
                fixed (ulong* s = start)
                fixed (ulong* e = extent)
                {
                    Hdf5Exception.Check(H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, s, null, e, null));
                }

                memSpace = Hdf5Exception.Check(CreateSimple(extent));
            }
            else
            {
                // A rank with nothing to transfer still takes part in the collective call.
                Hdf5Exception.Check(H5Sselect_none(fileSpace));
                memSpace = Hdf5Exception.Check(CreateSimple([1]));
                Hdf5Exception.Check(H5Sselect_none(memSpace));
            }

            xfer = Hdf5Exception.Check(H5Pcreate(Ids.DatasetXfer));
            Hdf5Exception.Check(H5Pset_dxpl_mpio(xfer, collective ? H5FD_MPIO_COLLECTIVE : H5FD_MPIO_INDEPENDENT));
            byte dummy = 0;
            fixed (byte* p = bytes)
            {
                void* buffer = p != null ? p : &dummy;
                if (write)
                {
                    Hdf5Exception.Check(H5Dwrite(dataset, memType, memSpace, fileSpace, xfer, buffer));
                }
                else
                {
                    Hdf5Exception.Check(H5Dread(dataset, memType, memSpace, fileSpace, xfer, buffer));
                }
            }
        }
        finally
        {
            if (xfer >= 0)
            {
                H5Pclose(xfer);
            }

            if (memSpace >= 0)
            {
                H5Sclose(memSpace);
            }
        }
    }

    private static ulong[] Dimensions(long rows, int components) =>
        components == 1 ? [(ulong)rows] : [(ulong)rows, (ulong)components];

    private static long CreateSimple(ulong[] dims)
    {
        fixed (ulong* d = dims)
        {
            return H5Screate_simple(dims.Length, d, null);
        }
    }

    private long OpenObject(string path) =>
        path == "/" ? _file : Hdf5Exception.Check(Interop.Hdf5.H5Oopen(_file, path, H5P_DEFAULT));

    private static void CloseObject(string path, long obj)
    {
        if (path != "/")
        {
            Interop.Hdf5.H5Oclose(obj);
        }
    }

    /// <summary>H5Fclose. Collective.</summary>
    public void Dispose()
    {
        if (_file >= 0)
        {
            long file = _file;
            _file = -1;
            Hdf5Exception.Check(H5Fclose(file));
        }
    }
}

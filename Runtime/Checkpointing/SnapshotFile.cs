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
internal sealed unsafe partial class SnapshotFile : IDisposable
{
    /// <summary>Largest slice of a writer's data covered by one checksum row.</summary>
    internal const int ChecksumBlockBytes = 4 << 20;

    private readonly Communicator _comm;
    private readonly IoTuning _tuning;
    private readonly bool _rewrite;
    private long _file;

    private SnapshotFile(Communicator comm, long file, IoTuning tuning, bool rewrite = false)
    {
        _comm = comm;
        _file = file;
        _tuning = tuning;
        _rewrite = rewrite;
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

    /// <summary>
    /// Opens a superseded snapshot of the same layout for writing in place (<see cref="CommitProtocol"/>'s recycling):
    /// every group already exists, every dataset is opened instead of created and must have the shape and type of
    /// the array written into it, and every attribute is replaced. Overwriting blocks that the file system has
    /// already allocated costs less than allocating new ones (docs/BENCHMARKS.md).
    /// </summary>
    internal static SnapshotFile OpenForRewrite(Communicator comm, string path, IoTuning tuning)
    {
        H5Library.EnsureInitialized();
        long fapl = CreateFileAccess(comm, tuning);
        try
        {
            return new SnapshotFile(comm, Hdf5Exception.Check(H5Fopen(path, H5F_ACC_RDWR, fapl)), tuning, rewrite: true);
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
            SetMpiIo(fapl, comm, tuning.MpiIoHints);
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

    /// <summary>
    /// H5Pset_fapl_mpio with an MPI_Info that carries the user's MPI-IO hints (<c>COORDINATED_MPIIO_HINTS</c>), or
    /// MPI_INFO_NULL when there are none. HDF5 keeps its own copy of the info, so it is freed here.
    /// </summary>
    private static void SetMpiIo(long fapl, Communicator comm, IReadOnlyList<(string Key, string Value)> hints)
    {
        if (hints.Count == 0)
        {
            Hdf5Exception.Check(H5Pset_fapl_mpio(fapl, comm.Handle, Interop.Mpi.MPI_INFO_NULL));
            return;
        }

        MpiException.ThrowIfError(Interop.Mpi.MPI_Info_create(out nint info));
        try
        {
            foreach (var (key, value) in hints)
            {
                MpiException.ThrowIfError(Interop.Mpi.MPI_Info_set(info, key, value));
            }

            Hdf5Exception.Check(H5Pset_fapl_mpio(fapl, comm.Handle, info));
        }
        finally
        {
            Interop.Mpi.MPI_Info_free(ref info);
        }
    }

    // ---------------------------------------------------------------- writing

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
            if (_rewrite)
            {
                dataset = OpenToRewrite("/state/" + array.Name, array.FileType, dims);
            }
            else
            {
                dcpl = Hdf5Exception.Check(H5Pcreate(Ids.DatasetCreate));
                Hdf5Exception.Check(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER));
                Hdf5Exception.Check(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY));
                dataset = Hdf5Exception.Check(H5Dcreate2(_file, "/state/" + array.Name, array.FileType, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
            }

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

    /// <summary>Writes this rank's checksum rows at row <paramref name="firstRow"/> of /checksums/NAME [totalRows, 3] (independent I/O, like /state, unless <c>COORDINATED_IO=collective</c>).</summary>
    internal void WriteChecksums(string name, long[] rows, long firstRow, long totalRows)
    {
        ulong[] dims = [(ulong)totalRows, 3];
        long space = Hdf5Exception.Check(CreateSimple(dims));
        long dataset = -1;
        try
        {
            dataset = _rewrite
                ? OpenToRewrite("/checksums/" + name, Ids.StdI64LE, dims)
                : Hdf5Exception.Check(H5Dcreate2(_file, "/checksums/" + name, Ids.StdI64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
            TransferRows(dataset, space, Ids.NativeInt64, dims, firstRow, rows.Length / 3, MemoryMarshal.AsBytes(rows.AsSpan()), write: true, collective: _tuning.CollectiveData);
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

    /// <summary>Opens an existing dataset to overwrite it; it must have exactly <paramref name="dims"/> and <paramref name="fileType"/>.</summary>
    private long OpenToRewrite(string path, long fileType, ulong[] dims)
    {
        long dataset = Hdf5Exception.Check(H5Dopen2(_file, path, H5P_DEFAULT));
        long space = -1, type = -1;
        try
        {
            space = Hdf5Exception.Check(H5Dget_space(dataset));
            var existing = new ulong[Hdf5Exception.Check(H5Sget_simple_extent_ndims(space))];
            fixed (ulong* d = existing)
            {
                Hdf5Exception.Check(H5Sget_simple_extent_dims(space, d, null));
            }

            type = Hdf5Exception.Check(H5Dget_type(dataset));
            if (!existing.AsSpan().SequenceEqual(dims) || Hdf5Exception.Check(H5Tequal(type, fileType)) <= 0)
            {
                throw new InvalidOperationException($"{path} in the recycled file has another shape or type than the array to write");
            }

            return dataset;
        }
        catch
        {
            H5Dclose(dataset);
            throw;
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

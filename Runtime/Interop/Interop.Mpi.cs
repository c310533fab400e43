using System.Runtime.InteropServices;

namespace Coordinated;

/// <summary>Raw Open MPI 4.1 entry points. Handles (<c>MPI_Comm</c>, <c>MPI_Datatype</c>, <c>MPI_Op</c>, ...) are pointers.</summary>
internal static partial class Interop
{
    internal static unsafe partial class Mpi
    {
        internal const int MPI_SUCCESS = 0;
        internal const int MPI_THREAD_FUNNELED = 1;
        internal const int MPI_THREAD_MULTIPLE = 3;
        internal const int MPI_MAX_ERROR_STRING = 256;
        internal const int MPI_MAX_PROCESSOR_NAME = 256;

        // Predefined handles are the addresses of exported objects (mpi.h: #define MPI_COMM_WORLD OMPI_PREDEFINED_GLOBAL(..., ompi_mpi_comm_world)).
        internal static nint MPI_COMM_WORLD => Handles.CommWorld;
        internal static nint MPI_INFO_NULL => Handles.InfoNull;
        internal static nint MPI_ERRORS_RETURN => Handles.ErrorsReturn;
        internal static nint MPI_INT => Handles.Int;
        internal static nint MPI_INT64_T => Handles.Int64;
        internal static nint MPI_DOUBLE => Handles.Double;
        internal static nint MPI_BYTE => Handles.Byte;
        internal static nint MPI_SUM => Handles.Sum;
        internal static nint MPI_MAX => Handles.Max;
        internal static nint MPI_MIN => Handles.Min;

        private static class Handles
        {
            internal static readonly nint CommWorld = Get("ompi_mpi_comm_world");
            internal static readonly nint InfoNull = Get("ompi_mpi_info_null");
            internal static readonly nint ErrorsReturn = Get("ompi_mpi_errors_return");
            internal static readonly nint Int = Get("ompi_mpi_int");
            internal static readonly nint Int64 = Get("ompi_mpi_int64_t");
            internal static readonly nint Double = Get("ompi_mpi_double");
            internal static readonly nint Byte = Get("ompi_mpi_byte");
            internal static readonly nint Sum = Get("ompi_mpi_op_sum");
            internal static readonly nint Max = Get("ompi_mpi_op_max");
            internal static readonly nint Min = Get("ompi_mpi_op_min");

            private static nint Get(string symbol) => Libraries.Export(Libraries.MpiHandle, symbol);
        }

        [LibraryImport(Libraries.Mpi)]
        internal static partial int MPI_Initialized(out int flag);

        [LibraryImport(Libraries.Mpi)]
        internal static partial int MPI_Finalized(out int flag);

        [LibraryImport(Libraries.Mpi)]
        internal static partial int MPI_Init_thread(int* argc, byte*** argv, int required, out int provided);

        [LibraryImport(Libraries.Mpi)]
        internal static partial int MPI_Finalize();

        [LibraryImport(Libraries.Mpi)]
        internal static partial int MPI_Abort(nint comm, int errorcode);

        [LibraryImport(Libraries.Mpi)]
        internal static partial int MPI_Comm_rank(nint comm, out int rank);

        [LibraryImport(Libraries.Mpi)]
        internal static partial int MPI_Comm_dup(nint comm, out nint newcomm);

        [LibraryImport(Libraries.Mpi)]
        internal static partial int MPI_Comm_size(nint comm, out int size);

        [LibraryImport(Libraries.Mpi)]
        internal static partial int MPI_Comm_set_errhandler(nint comm, nint errhandler);

        [LibraryImport(Libraries.Mpi)]
        internal static partial int MPI_Error_string(int errorcode, byte* text, out int resultlen);

        [LibraryImport(Libraries.Mpi)]
        internal static partial int MPI_Get_processor_name(byte* name, out int resultlen);

        [LibraryImport(Libraries.Mpi)]
        internal static partial int MPI_Barrier(nint comm);

        [LibraryImport(Libraries.Mpi)]
        internal static partial int MPI_Bcast(void* buffer, int count, nint datatype, int root, nint comm);

        [LibraryImport(Libraries.Mpi)]
        internal static partial int MPI_Allreduce(void* sendbuf, void* recvbuf, int count, nint datatype, nint op, nint comm);

        [LibraryImport(Libraries.Mpi)]
        internal static partial int MPI_Allgather(void* sendbuf, int sendcount, nint sendtype, void* recvbuf, int recvcount, nint recvtype, nint comm);

        [LibraryImport(Libraries.Mpi)]
        internal static partial int MPI_Allgatherv(void* sendbuf, int sendcount, nint sendtype, void* recvbuf, int* recvcounts, int* displs, nint recvtype, nint comm);

        [LibraryImport(Libraries.Mpi)]
        internal static partial int MPI_Alltoall(void* sendbuf, int sendcount, nint sendtype, void* recvbuf, int recvcount, nint recvtype, nint comm);

        [LibraryImport(Libraries.Mpi)]
        internal static partial int MPI_Alltoallv(void* sendbuf, int* sendcounts, int* sdispls, nint sendtype, void* recvbuf, int* recvcounts, int* rdispls, nint recvtype, nint comm);

        /// <summary>MPI_Sendrecv; <paramref name="status"/> may be null (MPI_STATUS_IGNORE is a null pointer in Open MPI).</summary>
        [LibraryImport(Libraries.Mpi)]
        internal static partial int MPI_Sendrecv(void* sendbuf, int sendcount, nint sendtype, int dest, int sendtag, void* recvbuf, int recvcount, nint recvtype, int source, int recvtag, nint comm, void* status);

        [LibraryImport(Libraries.Mpi)]
        internal static partial int MPI_Info_create(out nint info);

        [LibraryImport(Libraries.Mpi, StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int MPI_Info_set(nint info, string key, string value);

        [LibraryImport(Libraries.Mpi)]
        internal static partial int MPI_Info_free(ref nint info);
    }
}

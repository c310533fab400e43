using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using static Coordinated.Interop.Mpi;

namespace Coordinated.Mpi;

/// <summary>An MPI call returned an error code (MPI_ERRORS_RETURN is installed on every communicator we use).</summary>
public sealed class MpiException : Exception
{
    /// <summary>Creates the exception for a failed call.</summary>
    public MpiException(string call, int errorCode)
        : base($"{call} failed with MPI error {errorCode}: {ErrorString(errorCode)}")
    {
        Call = call;
        ErrorCode = errorCode;
    }

    /// <summary>The failing call as written in the source.</summary>
    public string Call { get; }

    /// <summary>The MPI error code.</summary>
    public int ErrorCode { get; }

    internal static void ThrowIfError(int rc, [CallerArgumentExpression(nameof(rc))] string call = "")
    {
        if (rc != MPI_SUCCESS)
        {
            Throw(call, rc);
        }
    }

    [DoesNotReturn]
    private static void Throw(string call, int rc) => throw new MpiException(call, rc);

    private static unsafe string ErrorString(int code)
    {
        byte* text = stackalloc byte[MPI_MAX_ERROR_STRING];
        return MPI_Error_string(code, text, out int length) == MPI_SUCCESS
            ? System.Text.Encoding.UTF8.GetString(text, length)
            : "(no description)";
    }
}

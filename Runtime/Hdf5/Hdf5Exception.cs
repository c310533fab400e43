using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static Coordinated.Interop.Hdf5;

namespace Coordinated.Hdf5;

/// <summary>An HDF5 call failed. The message carries the call and the most specific entries of HDF5's error stack.</summary>
public sealed class Hdf5Exception : Exception
{
    /// <summary>Creates the exception.</summary>
    public Hdf5Exception(string call, string details)
        : base(details.Length == 0 ? $"{call} failed" : $"{call} failed: {details}")
    {
        Call = call;
        Details = details;
    }

    /// <summary>The failing call as written in the source.</summary>
    public string Call { get; }

    /// <summary>Descriptions from HDF5's error stack, most specific last.</summary>
    public string Details { get; }

    internal static long Check(long id, [CallerArgumentExpression(nameof(id))] string call = "")
    {
        if (id < 0)
        {
            Throw(call);
        }

        return id;
    }

    internal static int Check(int rc, [CallerArgumentExpression(nameof(rc))] string call = "")
    {
        if (rc < 0)
        {
            Throw(call);
        }

        return rc;
    }

    [DoesNotReturn]
    internal static void Throw(string call) => throw new Hdf5Exception(ShortCall(call), ReadErrorStack());

    private static string ShortCall(string call)
    {
        int paren = call.IndexOf('(');
        return paren > 0 ? call[..paren] : call;
    }

    [ThreadStatic]
    private static List<string>? t_entries;

    private static unsafe string ReadErrorStack()
    {
        t_entries = [];
        H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, &OnErrorEntry, null);
        H5Eclear2(H5E_DEFAULT);
        var entries = t_entries.Distinct().ToList();
        t_entries = null;

        // The innermost few entries say what actually went wrong (e.g. "No space left on device").
        return string.Join("; ", entries.TakeLast(3));
    }

    [UnmanagedCallersOnly]
    private static unsafe int OnErrorEntry(uint n, H5E_error2_t* entry, void* clientData)
    {
        string? desc = Marshal.PtrToStringUTF8((nint)entry->desc);
        string? func = Marshal.PtrToStringUTF8((nint)entry->func_name);
        if (!string.IsNullOrWhiteSpace(desc))
        {
            t_entries?.Add($"{func}: {desc}");
        }

        return 0;
    }
}

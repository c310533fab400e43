using static Coordinated.Interop.Hdf5;

namespace Coordinated.Hdf5;

/// <summary>One-time HDF5 library set-up: open the library and stop it printing its error stack to stderr.</summary>
internal static unsafe class H5Library
{
    private static bool s_initialized;

    internal static void EnsureInitialized()
    {
        if (s_initialized)
        {
            return;
        }

        Hdf5Exception.Check(H5open());
        // Errors become exceptions with the stack's text; HDF5's own automatic printing would duplicate it on every rank.
        H5Eset_auto2(H5E_DEFAULT, null, null);
        s_initialized = true;
    }
}

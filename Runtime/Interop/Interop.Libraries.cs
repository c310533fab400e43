using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Coordinated;

internal static partial class Interop
{
    /// <summary>Logical library names used by <c>[LibraryImport]</c>; mapped to real files by <see cref="Resolve"/>.</summary>
    internal static class Libraries
    {
        internal const string Mpi = "coordinated-mpi";
        internal const string Hdf5 = "coordinated-hdf5";
        internal const string Libc = "libc";

        private static readonly LibrarySpec s_mpi = new(
            "Open MPI", "COORDINATED_LIBMPI", ["libmpi.so.40", "libmpi.so"], "openmpi-bin libopenmpi3");

        private static readonly LibrarySpec s_hdf5 = new(
            "parallel HDF5 (Open MPI flavour)", "COORDINATED_LIBHDF5",
            ["libhdf5_openmpi.so.103", "libhdf5_openmpi.so"], "libhdf5-openmpi-103-1 (or libhdf5-openmpi-dev)");

        // The resolver must be in place before the first P/Invoke from this assembly, whichever type makes it.
#pragma warning disable CA2255
        [ModuleInitializer]
#pragma warning restore CA2255
        internal static void Register() =>
            NativeLibrary.SetDllImportResolver(typeof(Libraries).Assembly, Resolve);

        private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) => name switch
        {
            Mpi => s_mpiHandle.Value,
            Hdf5 => s_hdf5Handle.Value,
            _ => IntPtr.Zero,
        };

        private static readonly Lazy<IntPtr> s_mpiHandle = new(() => Load(s_mpi));
        private static readonly Lazy<IntPtr> s_hdf5Handle = new(() => Load(s_hdf5));

        internal static IntPtr MpiHandle => s_mpiHandle.Value;
        internal static IntPtr Hdf5Handle => s_hdf5Handle.Value;

        private static IntPtr Load(LibrarySpec spec)
        {
            var tried = new List<string>();
            string? overridePath = Environment.GetEnvironmentVariable(spec.EnvironmentOverride);
            IEnumerable<string> candidates = string.IsNullOrEmpty(overridePath) ? spec.Names : [overridePath];
            foreach (string candidate in candidates)
            {
                tried.Add(candidate);
                if (NativeLibrary.TryLoad(candidate, out IntPtr handle))
                {
                    return handle;
                }
            }

            throw new DllNotFoundException(
                $"Could not load {spec.Description}: tried {string.Join(", ", tried)}. " +
                $"Install it with `apt-get install {spec.DebianPackages}`" +
                (string.IsNullOrEmpty(overridePath)
                    ? $", or point {spec.EnvironmentOverride} at the library file."
                    : $", or fix {spec.EnvironmentOverride} (it is set to '{overridePath}')."));
        }

        /// <summary>Address of an exported data symbol (Open MPI handles are such addresses).</summary>
        internal static IntPtr Export(IntPtr library, string symbol) => NativeLibrary.GetExport(library, symbol);

        private sealed record LibrarySpec(string Description, string EnvironmentOverride, string[] Names, string DebianPackages);
    }
}

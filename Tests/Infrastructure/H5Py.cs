using System.Diagnostics;
using System.Text.Json;

namespace Coordinated.Tests.Infrastructure;

/// <summary>Reads HDF5 files with h5py (Debian's python3), an independent reader.</summary>
internal static class H5Py
{
    /// <summary>Runs a Python snippet with <c>h5py</c>, <c>numpy</c>, <c>json</c> and <c>path</c> in scope; returns its stdout.</summary>
    internal static string Run(string path, string code)
    {
        Requires.H5py();
        string script = "import sys, json, h5py, numpy as np\npath = sys.argv[1]\n" + code;
        var info = new ProcessStartInfo(Repo.DebianPython) { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        info.ArgumentList.Add(path);
        using var process = Process.Start(info)!;
        string stdout = process.StandardOutput.ReadToEnd();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.That(process.ExitCode, Is.Zero, () => $"h5py script failed:\n{stderr}");
        return stdout;
    }

    /// <summary>Root attributes as JSON values.</summary>
    internal static JsonElement Attributes(string path) => JsonDocument.Parse(Run(path, """
        def plain(v):
            if isinstance(v, bytes): return v.decode()
            if hasattr(v, 'item'): return v.item()
            return v
        with h5py.File(path, 'r') as f:
            print(json.dumps({k: plain(v) for k, v in f.attrs.items()}))
        """)).RootElement;

    /// <summary>A dataset's raw little-endian bytes, as h5py reads them.</summary>
    internal static byte[] DatasetBytes(string path, string dataset) => Convert.FromBase64String(Run(path, $$"""
        import base64
        with h5py.File(path, 'r') as f:
            print(base64.b64encode(np.ascontiguousarray(f['{{dataset}}'][()]).astype(f['{{dataset}}'].dtype.newbyteorder('<')).tobytes()).decode())
        """).Trim());

    /// <summary>File offset of a contiguous dataset's first byte (for corruption tests).</summary>
    internal static long DatasetOffset(string path, string dataset) => long.Parse(Run(path, $$"""
        with h5py.File(path, 'r') as f:
            print(f['{{dataset}}'].id.get_offset())
        """).Trim());
}

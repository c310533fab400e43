using System.Diagnostics;
using System.Text.Json;
using Coordinated.Tests.Infrastructure;
using NUnit.Framework;

namespace Coordinated.Tests.Study;

/// <summary>
/// Runs <c>Tests/Study/readers/check.mjs</c>, which reads a Parquet file with two independent readers
/// (hyparquet, pure JavaScript; parquet-wasm, the Rust arrow-rs reader compiled to WebAssembly) and prints
/// what each saw as JSON.
/// </summary>
internal static class NodeReaders
{
    public static readonly string[] Names = ["hyparquet", "parquet-wasm"];

    private static readonly TimeSpan s_checkTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan s_installTimeout = TimeSpan.FromMinutes(10);
    private static readonly Lock s_lock = new();
    private static string? s_directory;

    /// <summary>
    /// Makes sure node is there and the readers are installed (<c>npm ci</c> when <c>node_modules</c> is missing).
    /// Without node or npm the calling test fails on CI (CI=true) and is ignored elsewhere.
    /// </summary>
    public static void EnsureInstalled()
    {
        lock (s_lock)
        {
            if (s_directory is not null)
            {
                return;
            }

            string directory = FindReadersDirectory();
            const string install =
                "Install Node.js 18 or later with npm (Debian/Ubuntu: `apt-get install nodejs npm`, or https://nodejs.org), " +
                "then run `npm ci` in Tests/Study/readers.";
            if (Run("node", ["--version"], directory, TimeSpan.FromSeconds(30)) is not { ExitCode: 0 })
            {
                Requires.Unavailable($"The Parquet reader tests need node, which was not found. {install}");
            }

            if (!File.Exists(Path.Combine(directory, "node_modules", "hyparquet", "package.json")) ||
                !File.Exists(Path.Combine(directory, "node_modules", "parquet-wasm", "package.json")))
            {
                TestContext.Progress.WriteLine($"Installing the Parquet readers: npm ci in {directory}");
                ProcessResult? npm = Run("npm", ["ci", "--no-audit", "--no-fund"], directory, s_installTimeout);
                if (npm is not { ExitCode: 0 })
                {
                    Requires.Unavailable(
                        $"`npm ci` in {directory} failed ({(npm is null ? "npm not found" : $"exit code {npm.ExitCode}: {npm.StandardError}")}). {install}");
                }
            }

            s_directory = directory;
        }
    }

    /// <summary>Reads <paramref name="file"/> with both readers; the root has a <c>readers</c> object keyed by <see cref="Names"/>.</summary>
    public static JsonElement Read(string file)
    {
        EnsureInstalled();
        ProcessResult result = Run("node", ["check.mjs", file], s_directory!, s_checkTimeout)
            ?? throw new InvalidOperationException("node could not be started.");
        Assert.That(result.ExitCode, Is.Zero, $"node check.mjs {file} failed:\n{result.StandardError}");
        using JsonDocument document = JsonDocument.Parse(result.StandardOutput);
        return document.RootElement.Clone();
    }

    private static string FindReadersDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "Tests", "Study", "readers");
            if (File.Exists(Path.Combine(candidate, "package.json")))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException($"Tests/Study/readers not found above {AppContext.BaseDirectory}.");
    }

    private sealed record ProcessResult(int ExitCode, string StandardOutput, string StandardError);

    /// <summary>Runs a program; null when it cannot be started (not installed).</summary>
    private static ProcessResult? Run(string fileName, string[] arguments, string workingDirectory, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(fileName, arguments)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException($"{fileName} did not start.");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }

        using (process)
        {
            Task<string> stdout = process.StandardOutput.ReadToEndAsync();
            Task<string> stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
                Assert.Fail($"{fileName} {string.Join(' ', arguments)} did not finish within {timeout}.");
            }

            process.WaitForExit(); // drains the redirected streams
            return new ProcessResult(process.ExitCode, stdout.Result, stderr.Result);
        }
    }
}

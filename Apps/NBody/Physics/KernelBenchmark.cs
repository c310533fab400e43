using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Coordinated.Apps.NBody.Physics;

/// <summary>
/// Measures the single-threaded speed of <see cref="ForceKernel"/> against the C reference kernel in
/// <c>bench/kernel/nbody_kernel.c</c>, built with gcc in the same run, and checks that both compute
/// the same bits.
/// </summary>
public static partial class KernelBenchmark
{
    /// <summary>The particle counts measured when none are given.</summary>
    public static IReadOnlyList<int> DefaultSizes { get; } = [1024, 4096, 16384];

    /// <summary>
    /// The C builds measured, all optimised for this CPU without FMA contraction or fast-math: the
    /// plain build keeps sqrt's errno check, which stops gcc from vectorising; -fno-math-errno drops
    /// it, and gcc then vectorises the target loop itself, much as the C# kernel does by hand.
    /// </summary>
    public static IReadOnlyList<string> CFlags { get; } =
    [
        "-O3 -march=native -ffp-contract=off",
        "-O3 -march=native -ffp-contract=off -fno-math-errno",
    ];

    private const double Softening = 0.01;
    private const ulong Seed = 42;

    /// <summary>
    /// Times one full evaluation (N targets, N sources) of every SIMD path of the C# kernel and of
    /// each C build for each size, and prints a table of interactions per second (N^2 per
    /// evaluation, best of <paramref name="repeats"/>) to <paramref name="output"/>.
    /// </summary>
    /// <param name="sizes">Particle counts N to measure.</param>
    /// <param name="repeats">Timed evaluations per kernel and size; the fastest counts.</param>
    /// <param name="output">Where the table goes.</param>
    /// <returns>
    /// 0 when every kernel, the C builds included, agreed bit for bit with the scalar C# path; 1 when
    /// some result differed; 2 when a C build could not be made or run (gcc missing, for example).
    /// </returns>
    public static int Run(IReadOnlyList<int> sizes, int repeats, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(repeats);

        SimdPath[] paths = [.. Enum.GetValues<SimdPath>().Where(ForceKernel.IsSupported).OrderDescending()];
        output.WriteLine($"Force kernel benchmark: {Environment.ProcessorCount} logical CPUs, {RuntimeInformation.ProcessArchitecture}, "
            + $"{RuntimeInformation.FrameworkDescription}, one thread, best of {repeats}, Plummer sphere, eps = "
            + Softening.ToString(CultureInfo.InvariantCulture));

        DirectoryInfo work = Directory.CreateTempSubdirectory("nbody-kernel-");
        try
        {
            string?[] binaries = [.. CFlags.Select((flags, k) => BuildReference(flags, Path.Combine(work.FullName, $"nbody_kernel_{k}"), output))];
            bool referenceFailed = binaries.Any(b => b is null);
            output.WriteLine();
            output.WriteLine("| N | " + string.Join(" | ", paths.Select(p => $"C# {p}"))
                + " | " + string.Join(" | ", CFlags.Select((_, k) => $"C{k + 1}"))
                + " | " + string.Join(" | ", CFlags.Select((_, k) => $"C# / C{k + 1}")) + " | bits |");
            output.WriteLine("|" + string.Concat(Enumerable.Repeat("---:|", 1 + paths.Length + 2 * CFlags.Count)) + "---|");

            bool allMatch = true;
            foreach (int n in sizes)
            {
                ParticleSet particles = InitialConditions.Create(n, Seed, InitialConditionKind.Plummer);
                double softening2 = Softening * Softening;
                var rates = new List<double>();
                var results = new List<double[]>();
                foreach (SimdPath path in paths)
                {
                    (double rate, double[] accelerations) = TimeKernel(particles, softening2, repeats, path);
                    rates.Add(rate);
                    results.Add(accelerations);
                }

                // The scalar path (always supported, listed last) is the yardstick for the others and for C.
                double[] expected = results[^1];
                var differences = new List<string>();
                for (int k = 0; k < paths.Length; k++)
                {
                    if (!BitwiseEqual(results[k], expected, out double maxRelative))
                    {
                        differences.Add($"C# {paths[k]} differs by up to {maxRelative.ToString("E2", CultureInfo.InvariantCulture)}");
                    }
                }

                var cRates = new List<double>();
                for (int k = 0; k < binaries.Length; k++)
                {
                    (double cRate, double[]? cAccelerations, string? error) = binaries[k] is { } binary
                        ? RunReference(binary, work.FullName, particles, softening2, repeats)
                        : (double.NaN, null, null);
                    cRates.Add(cRate);
                    if (error is not null)
                    {
                        output.WriteLine($"C{k + 1} failed for N = {n}: {error}");
                        referenceFailed = true;
                    }
                    else if (cAccelerations is not null && !BitwiseEqual(cAccelerations, expected, out double maxRelative))
                    {
                        differences.Add($"C{k + 1} differs by up to {maxRelative.ToString("E2", CultureInfo.InvariantCulture)}");
                    }
                }

                allMatch &= differences.Count == 0;
                string bits = differences.Count == 0
                    ? (binaries.Any(b => b is not null) ? "all identical, C included" : "C# paths identical")
                    : string.Join("; ", differences);
                output.WriteLine($"| {n} | " + string.Join(" | ", rates.Select(Format))
                    + " | " + string.Join(" | ", cRates.Select(Format))
                    + " | " + string.Join(" | ", cRates.Select(c => double.IsNaN(c) ? "n/a" : (rates.Max() / c).ToString("F2", CultureInfo.InvariantCulture)))
                    + $" | {bits} |");
            }

            output.WriteLine();
            output.WriteLine("Rates in 10^9 pair interactions per second (N^2 per evaluation); C# / Ck uses the fastest C# path.");
            for (int k = 0; k < CFlags.Count; k++)
            {
                output.WriteLine($"C{k + 1}: gcc {CFlags[k]}");
            }

            return !allMatch ? 1 : referenceFailed ? 2 : 0;
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static string Format(double rate) =>
        double.IsNaN(rate) ? "n/a" : rate.ToString("F3", CultureInfo.InvariantCulture);

    /// <summary>One untimed evaluation, then the fastest of <paramref name="repeats"/> timed ones.</summary>
    private static (double GInteractionsPerSecond, double[] Accelerations) TimeKernel(
        ParticleSet particles, double softening2, int repeats, SimdPath path)
    {
        int n = particles.Count;
        double[] accelerations = new double[3 * n];
        double best = double.PositiveInfinity;
        for (int r = 0; r <= repeats; r++)
        {
            long start = Stopwatch.GetTimestamp();
            ForceKernel.Accelerations(particles.Positions, particles.Masses, 0, n, softening2, accelerations, path);
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            if (r > 0)
            {
                best = Math.Min(best, seconds);
            }
        }

        return ((double)n * n / best * 1e-9, accelerations);
    }

    /// <summary>Builds the C reference with <paramref name="flags"/>; null (with a message) when it cannot.</summary>
    private static string? BuildReference(string flags, string binary, TextWriter output)
    {
        string? root = FindRepositoryRoot();
        if (root is null)
        {
            output.WriteLine($"C reference skipped: no Coordinated.sln above {AppContext.BaseDirectory}.");
            return null;
        }

        string source = Path.Combine(root, "bench", "kernel", "nbody_kernel.c");
        string[] arguments = [.. flags.Split(' '), "-o", binary, source, "-lm"];
        (int exitCode, _, string stderr) = Execute("gcc", arguments);
        if (exitCode != 0)
        {
            output.WriteLine($"C reference skipped: gcc {string.Join(' ', arguments)} failed ({exitCode}): {stderr.Trim()}");
            return null;
        }

        (_, string version, _) = Execute("gcc", ["-dumpfullversion"]);
        output.WriteLine($"C reference: gcc {version.Trim()} {flags} {Path.GetRelativePath(root, source)}");
        return binary;
    }

    private static (double GInteractionsPerSecond, double[]? Accelerations, string? Error) RunReference(
        string binary, string directory, ParticleSet particles, double softening2, int repeats)
    {
        string input = Path.Combine(directory, "input.bin");
        string result = Path.Combine(directory, "output.bin");
        using (FileStream stream = File.Create(input))
        {
            stream.Write(BitConverter.GetBytes((long)particles.Count));
            stream.Write(BitConverter.GetBytes(softening2));
            stream.Write(MemoryMarshal.AsBytes(particles.Positions.AsSpan()));
            stream.Write(MemoryMarshal.AsBytes(particles.Masses.AsSpan()));
        }

        (int exitCode, string stdout, string stderr) = Execute(binary, [input, result, repeats.ToString(CultureInfo.InvariantCulture)]);
        if (exitCode != 0)
        {
            return (0, null, $"exit code {exitCode}: {stderr.Trim()}");
        }

        Match line = ResultLine().Match(stdout);
        if (!line.Success)
        {
            return (0, null, $"no result line in: {stdout.Trim()}");
        }

        byte[] bytes = File.ReadAllBytes(result);
        if (bytes.Length != 3 * particles.Count * sizeof(double))
        {
            return (0, null, $"{result} holds {bytes.Length} bytes, expected {3 * particles.Count * sizeof(double)}");
        }

        double rate = double.Parse(line.Groups["rate"].Value, CultureInfo.InvariantCulture);
        return (rate, MemoryMarshal.Cast<byte, double>(bytes).ToArray(), null);
    }

    private static bool BitwiseEqual(ReadOnlySpan<double> actual, ReadOnlySpan<double> expected, out double maxRelative)
    {
        bool equal = actual.Length == expected.Length;
        maxRelative = 0.0;
        for (int k = 0; k < Math.Min(actual.Length, expected.Length); k++)
        {
            if (BitConverter.DoubleToInt64Bits(actual[k]) != BitConverter.DoubleToInt64Bits(expected[k]))
            {
                equal = false;
                double scale = Math.Max(Math.Abs(expected[k]), double.Epsilon);
                maxRelative = Math.Max(maxRelative, Math.Abs(actual[k] - expected[k]) / scale);
            }
        }

        return equal;
    }

    /// <summary>The directory holding Coordinated.sln, searched upwards from the application's directory.</summary>
    internal static string? FindRepositoryRoot()
    {
        for (DirectoryInfo? directory = new(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Coordinated.sln")))
            {
                return directory.FullName;
            }
        }

        return null;
    }

    private static (int ExitCode, string Stdout, string Stderr) Execute(string fileName, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        try
        {
            using Process process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {fileName}.");
            Task<string> stderr = process.StandardError.ReadToEndAsync();
            string stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, stdout, stderr.Result);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, "", $"cannot run {fileName}: {e.Message}");
        }
    }

    [GeneratedRegex(@"^NBODY_KERNEL n=\d+ repeats=\d+ best_seconds=\S+ ginteractions_per_s=(?<rate>\S+)$", RegexOptions.Multiline)]
    private static partial Regex ResultLine();
}

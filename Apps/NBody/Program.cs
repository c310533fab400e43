// Temporary entry point (branch nbody): runs the force-kernel benchmark until the real Program.cs lands.
// Usage: dotnet NBody.dll bench-kernel [REPEATS] [N ...]
using System.Globalization;
using Coordinated.Apps.NBody.Physics;

if (args.Length > 0 && args[0] == "bench-kernel")
{
    int repeats = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
    int[] sizes = args.Length > 2 ? [.. args[2..].Select(a => int.Parse(a, CultureInfo.InvariantCulture))] : [.. KernelBenchmark.DefaultSizes];
    return KernelBenchmark.Run(sizes, repeats, Console.Out);
}

Console.WriteLine("nbody placeholder");
return 0;

using Coordinated.Tests.Infrastructure;
using Coordinated.Apps.NBody.Physics;
using NUnit.Framework;

namespace Coordinated.Tests.NBody;

public class KernelBenchmarkTests
{
    /// <summary>
    /// A tiny run of the benchmark: builds the C reference with gcc and checks that every C# path and
    /// the C kernel produce the same bits (sizes that leave partial vector groups).
    /// </summary>
    [Test]
    public void CReferenceAndAllPathsAgreeBitForBit()
    {
        using var output = new StringWriter();
        int exitCode = KernelBenchmark.Run([37, 64], repeats: 1, output);
        string text = output.ToString();
        if (exitCode == 2 && text.Contains("C reference skipped", StringComparison.Ordinal))
        {
            Requires.Unavailable("The kernel benchmark needs gcc (Debian/Ubuntu: apt-get install gcc).\n" + text);
        }

        Assert.That(exitCode, Is.Zero, text);
        Assert.That(text, Does.Contain("| 37 |").And.Contain("| 64 |"));
        Assert.That(text.Split('\n').Count(line => line.Contains("all identical, C included", StringComparison.Ordinal)), Is.EqualTo(2), text);
    }

    [Test]
    public void RepositoryRootIsFoundFromTheTestBinaries() =>
        Assert.That(Path.Combine(KernelBenchmark.FindRepositoryRoot() ?? "", "bench", "kernel", "nbody_kernel.c"), Does.Exist);
}

using System.Reflection;

[assembly: Coordinated.Tests.Infrastructure.ScratchCleanup]

namespace Coordinated.Tests.Infrastructure;

/// <summary>Paths into the repository and to the apps built alongside the tests.</summary>
internal static class Repo
{
    internal static string Root { get; } = FindRoot();

    /// <summary>Debug or Release: the apps are used from the same configuration as this test assembly.</summary>
    internal static string Configuration { get; } =
        typeof(Repo).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    internal static string CounterDll => AppDll("Counter");

    internal static string NBodyDll => AppDll("NBody");

    internal static string MDDll => AppDll("MD");

    /// <summary>The checkpoint-interval study (Tools/Study), built with the solution.</summary>
    internal static string StudyDll
    {
        get
        {
            string path = Path.Combine(Root, "Tools", "Study", "bin", Configuration, "net10.0", "Study.dll");
            if (!File.Exists(path))
            {
                Assert.Fail($"{path} is missing; build the solution first (dotnet build Coordinated.sln -c {Configuration}).");
            }

            return path;
        }
    }

    internal static string AppDll(string name)
    {
        string path = Path.Combine(Root, "Apps", name, "bin", Configuration, "net10.0", name + ".dll");
        if (!File.Exists(path))
        {
            Assert.Fail($"{path} is missing; build the solution first (dotnet build Coordinated.sln -c {Configuration}).");
        }

        return path;
    }

    /// <summary>Debian's Python, the one with h5py (the first python3 on PATH may be another).</summary>
    internal const string DebianPython = "/usr/bin/python3";

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Coordinated.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Coordinated.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>
/// A per-test scratch directory under the system temp dir, removed once the test has passed and kept (its path
/// printed) when it failed. A <c>using</c> disposes it before NUnit knows the outcome, so the decision is made by
/// <see cref="ScratchCleanupAttribute"/> after the test.
/// </summary>
internal sealed class TempDir : IDisposable
{
    private static readonly List<string> s_pending = [];

    internal TempDir()
    {
        Path = Directory.CreateTempSubdirectory("coordinated-test-").FullName;
    }

    internal string Path { get; }

    internal string this[string name] => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        lock (s_pending)
        {
            s_pending.Add(Path);
        }
    }

    /// <summary>Deletes the directories disposed so far if <paramref name="passed"/>; otherwise says where they are.</summary>
    internal static void Settle(bool passed)
    {
        string[] paths;
        lock (s_pending)
        {
            paths = [.. s_pending];
            s_pending.Clear();
        }

        foreach (string path in paths)
        {
            if (!passed)
            {
                TestContext.Out.WriteLine($"kept scratch directory {path}");
                continue;
            }

            try
            {
                Directory.Delete(path, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
    }
}

/// <summary>After every test (and fixture), removes the scratch directories of what passed.</summary>
[AttributeUsage(AttributeTargets.Assembly)]
internal sealed class ScratchCleanupAttribute : Attribute, ITestAction
{
    public ActionTargets Targets => ActionTargets.Test | ActionTargets.Suite;

    public void BeforeTest(NUnit.Framework.Interfaces.ITest test)
    {
    }

    public void AfterTest(NUnit.Framework.Interfaces.ITest test) =>
        TempDir.Settle(TestContext.CurrentContext.Result.Outcome.Status != NUnit.Framework.Interfaces.TestStatus.Failed);
}

/// <summary>Tools a test needs. On CI (CI=true) a missing tool fails the test with how to install it; locally it is ignored.</summary>
internal static class Requires
{
    internal static void Tool(string path, string install)
    {
        bool found = path.Contains('/') ? File.Exists(path) : FindOnPath(path) is not null;
        if (found)
        {
            return;
        }

        string message = $"{path} is not available; install it with: {install} (or run ./test.sh, which installs everything)";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            Assert.Fail(message);
        }

        Assert.Ignore(message);
    }

    internal static void H5py() => Tool(Repo.DebianPython, "apt-get install python3-h5py-mpi");

    internal static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => System.IO.Path.Combine(dir, name)).FirstOrDefault(File.Exists);
}

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
    internal static string StudyDll => BuiltDll(Path.Combine(Root, "Tools", "Study"), "Study");

    /// <summary>The checkpoint benchmark (bench/CheckpointBench), built with the solution.</summary>
    internal static string BenchDll => BuiltDll(Path.Combine(Root, "bench", "CheckpointBench"), "CheckpointBench");

    internal static string AppDll(string name) => BuiltDll(Path.Combine(Root, "Apps", name), name);

    private static string BuiltDll(string project, string name)
    {
        string path = Path.Combine(project, "bin", Configuration, "net10.0", name + ".dll");
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

/// <summary>
/// What a test needs from the machine. On CI (CI=true) a missing prerequisite fails the test with how to install or
/// run it; locally the test is ignored with the same message.
/// </summary>
internal static class Requires
{
    internal static bool OnCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    internal static void Tool(string path, string install)
    {
        bool found = path.Contains('/') ? File.Exists(path) : FindOnPath(path) is not null;
        if (!found)
        {
            Unavailable($"{path} is not available; install it with: {install} (or run ./test.sh, which installs everything)");
        }
    }

    internal static void H5py() => Tool(Repo.DebianPython, "apt-get install python3-h5py-mpi");

    /// <summary>The test must run as root (<paramref name="why"/>).</summary>
    internal static void Root(string why)
    {
        if (Environment.UserName != "root")
        {
            Unavailable($"this test needs root ({why}); run the tests as root (sudo ./test.sh, or sudo dotnet test ...)");
        }
    }

    /// <summary>A prerequisite is missing: fails the test on CI, ignores it elsewhere; <paramref name="message"/> says how to get it.</summary>
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    internal static void Unavailable(string message)
    {
        if (OnCi)
        {
            Assert.Fail(message);
        }

        Assert.Ignore(message);
    }

    internal static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => System.IO.Path.Combine(dir, name)).FirstOrDefault(File.Exists);
}

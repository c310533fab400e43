using Coordinated.Tests.Infrastructure;

namespace Coordinated.Tests.Launcher;

/// <summary>
/// The shell scripts around the apps: build.sh (the build step), mpi-run.sh (the launch step) and demo.sh.
/// The build tests run the real scripts in a copy of the repository whose only source is a project file newer than
/// the built Counter, with a stand-in <c>dotnet build</c> (it records each call and blocks until released, so the
/// race between two launches is forced, not hoped for) and the real <c>dotnet</c> for the ranks.
/// </summary>
[NonParallelizable] // starts ranks
public class LauncherTests
{
    [TestCase("mpi-run.sh", "./mpi-run.sh [-n RANKS] APP [ARGS...]")]
    [TestCase("demo.sh", "./demo.sh [--particles N] [--steps S]")]
    [TestCase("build.sh", "./build.sh APP...")]
    public void Help_prints_the_usage_and_none_of_the_script(string script, string usage)
    {
        using var job = Job.Start(Path.Combine(Repo.Root, script), ["--help"]);
        job.ExpectExit(0);
        Assert.That(job.Stdout, Does.Contain(usage));
        Assert.That(job.Stdout, Does.Not.Contain("set -").And.Not.Contain("pipefail"), "the help must end before the script's code");
    }

    [TestCase("--particles")]
    [TestCase("--steps")]
    [TestCase("--steps", "ten")]
    [TestCase("--particles", "0")]
    public void Demo_rejects_a_flag_without_a_usable_value_with_exit_64(params string[] args)
    {
        using var job = Job.Start(Path.Combine(Repo.Root, "demo.sh"), args);
        job.ExpectExit(64);
        Assert.That(job.Stderr, Does.StartWith($"error: {args[0]} ").And.Contain("see --help"));
        Assert.That(job.Stderr, Does.Not.Contain("unbound variable"));
        Assert.That(job.Stdout, Is.Empty, "nothing may run");
    }

    [Test]
    public void Two_concurrent_launches_outside_a_job_build_once_and_both_run()
    {
        using var repo = new StaleRepo();
        using var first = repo.Launch("a");
        first.WaitForLine(@"^build: Apps/Counter/Counter\.csproj \(Release\): Apps/Counter/Counter\.csproj changed after the last build");
        using var second = repo.Launch("b");
        second.WaitForLine(@"^build: another build holds .*\.build\.lock; waiting for it", TimeSpan.FromSeconds(60));
        repo.ReleaseBuild();

        first.ExpectExit(0);
        second.ExpectExit(0);
        Assert.That(repo.Builds, Is.EqualTo(["build " + repo["Apps/Counter/Counter.csproj"]]), "exactly one build");
        Assert.That(first.Stdout, Does.Contain("finished at step 20"));
        Assert.That(second.Stdout, Does.Contain("finished at step 20"));
        Assert.That(second.Stderr, Does.Not.Contain("build: Apps/Counter"), "the second launch found the build current once it had the lock");
    }

    [Test]
    public void Inside_a_job_a_stale_build_exits_69_with_the_build_command_and_builds_nothing()
    {
        using var repo = new StaleRepo();
        using var job = repo.Launch("a", new() { ["SLURM_JOB_ID"] = "4242" });
        job.ExpectExit(69);
        Assert.That(job.Stderr, Does.Contain("the counter build is not usable: Apps/Counter/Counter.csproj changed after the last build"));
        Assert.That(job.Stderr, Does.Contain("this is Slurm job 4242, and mpi-run.sh never builds inside a job"));
        Assert.That(job.Stderr, Does.Contain($"cd {repo.Root} && ./build.sh"));
        Assert.That(repo.Builds, Is.Empty);
        Assert.That(job.Stdout, Does.Not.Contain("counter:"), "no rank may start");
    }

    [Test]
    public void Inside_a_job_missing_packages_exit_69_and_nothing_is_installed()
    {
        using var repo = new StaleRepo();
        repo.HideDebianPackages();
        using (var outside = repo.Launch("a"))
        {
            outside.WaitForExit();
            Assert.That(repo.AptCalls, Is.Not.Empty, "outside a job the launcher installs what is missing (the stand-ins work)");
        }

        File.Delete(repo["apt.log"]);
        using var job = repo.Launch("b", new() { ["SLURM_JOB_ID"] = "4242" });
        job.ExpectExit(69);
        Assert.That(job.Stderr, Does.Contain("error: missing Debian packages: openmpi-bin").And.Contain("Nothing is installed inside a Slurm job (SLURM_JOB_ID=4242)"));
        Assert.That(repo.AptCalls, Is.Empty);
        Assert.That(repo.Builds, Is.Empty);
    }

    /// <summary>
    /// A copy of the launcher scripts and of the built Counter whose build is stale: its files are an hour old and
    /// Apps/Counter/Counter.csproj is new. PATH starts with stand-ins: <c>dotnet build</c> logs and waits for
    /// <see cref="ReleaseBuild"/>, every other <c>dotnet</c> call is the real one; <c>apt-get</c> only logs.
    /// </summary>
    private sealed class StaleRepo : IDisposable
    {
        private readonly TempDir _dir = new();

        internal StaleRepo()
        {
            foreach (string script in new[] { "mpi-run.sh", "build.sh", "scripts/ensure-deps.sh", "scripts/relaunch.sh" })
            {
                Copy(Path.Combine(Repo.Root, script), this[script]);
            }

            string bin = Path.GetDirectoryName(Repo.CounterDll)!;
            foreach (string file in Directory.EnumerateFiles(bin).Where(f => !Path.GetFileName(f).StartsWith('.')))
            {
                string copy = this[Path.Combine("Apps/Counter/bin/Release/net10.0", Path.GetFileName(file))];
                Copy(file, copy);
                File.SetLastWriteTimeUtc(copy, DateTime.UtcNow.AddHours(-1));
            }

            File.WriteAllText(this["Apps/Counter/Counter.csproj"], "<Project />\n");

            string realDotnet = Which("dotnet");
            Stub("dotnet", $"""
                if [ "$1" = build ]; then
                  echo "build $2" >> {this["builds.log"]}
                  while [ ! -e {this["release"]} ]; do sleep 0.1; done
                  exit 0
                fi
                exec {realDotnet} "$@"
                """);
            Stub("apt-get", $"echo \"apt-get $*\" >> {this["apt.log"]}; exit 1");
            Stub("sudo", "exec \"$@\""); // not root: ensure-deps.sh installs through sudo
        }

        internal string Root => _dir.Path;

        internal string this[string relative] => Path.Combine(_dir.Path, relative);

        internal string[] Builds => File.Exists(this["builds.log"]) ? File.ReadAllLines(this["builds.log"]) : [];

        internal string[] AptCalls => File.Exists(this["apt.log"]) ? File.ReadAllLines(this["apt.log"]) : [];

        /// <summary>Lets the stand-in build finish.</summary>
        internal void ReleaseBuild() => File.WriteAllText(this["release"], "");

        /// <summary>ldconfig and dpkg-query stand-ins that find nothing, so every Debian package looks missing.</summary>
        internal void HideDebianPackages()
        {
            Stub("ldconfig", "exit 0");
            Stub("dpkg-query", "exit 1");
        }

        /// <summary>Counter on one rank, 20 steps, through this copy's mpi-run.sh.</summary>
        internal Job Launch(string name, Dictionary<string, string>? env = null)
        {
            var all = new Dictionary<string, string>(env ?? [])
            {
                ["PATH"] = this["stubs"] + ":" + Environment.GetEnvironmentVariable("PATH"),
            };
            return Job.Start(this["mpi-run.sh"], ["-n", "1", "counter", "--to", "20", "--checkpoint-dir", this["ckpt-" + name]], all);
        }

        public void Dispose() => _dir.Dispose();

        private void Stub(string name, string body) => StandIn.Write(this["stubs"], name, body);

        private static void Copy(string from, string to)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(from, to);
            File.SetUnixFileMode(to, File.GetUnixFileMode(from));
        }

        private static string Which(string program) =>
            (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
                .Select(dir => Path.Combine(dir, program))
                .FirstOrDefault(File.Exists) ?? throw new InvalidOperationException($"{program} is not on PATH");
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Coordinated.Study;
using Coordinated.Tests.Infrastructure;

namespace Coordinated.Tests.Slurm;

/// <summary>
/// Starts one private Slurm (Tests/Slurm/slurm-up.sh) for all tests of this namespace and stops it afterwards.
/// If it cannot start (not root, packages missing), every Slurm test fails with the script's message.
/// </summary>
[SetUpFixture]
public sealed class SlurmSetUp
{
    [OneTimeSetUp]
    public void StartCluster() => SlurmCluster.Start();

    [OneTimeTearDown]
    public void StopCluster() => SlurmCluster.Stop();
}

/// <summary>The state of a job as <c>scontrol show job</c> reports it.</summary>
internal sealed record JobInfo(string State, int Restarts, string ExitCode)
{
    internal bool IsFinal => State is "COMPLETED" or "FAILED" or "CANCELLED" or "TIMEOUT" or "NODE_FAIL" or "OUT_OF_MEMORY" or "BOOT_FAIL" or "DEADLINE";
}

/// <summary>A private one-node Slurm and the client calls the tests need, all through its SLURM_CONF.</summary>
internal static class SlurmCluster
{
    private static string? s_dir;
    private static string? s_startError;

    /// <summary>The low partition's GraceTime (passed to slurm-up.sh).</summary>
    internal const int GraceSeconds = 20;

    internal static string Dir => s_dir ?? throw new InvalidOperationException("the cluster is not started");

    internal static string Conf => Path.Combine(Dir, "slurm.conf");

    private static string Script(string name) => Path.Combine(Repo.Root, "Tests", "Slurm", name);

    internal static void Start()
    {
        s_dir = Directory.CreateTempSubdirectory("coordinated-slurm-").FullName;
        var (rc, stdout, stderr) = Exec(Script("slurm-up.sh"), [s_dir], TimeSpan.FromSeconds(90), withConf: false,
            env: new() { ["COORDINATED_GRACE_TIME"] = GraceSeconds.ToString(CultureInfo.InvariantCulture) });
        if (rc != 0)
        {
            s_startError = $"the private Slurm did not start (slurm-up.sh exit {rc}):\n{stderr}{stdout}";
        }

        TestContext.Progress.WriteLine(stderr.Trim());
    }

    internal static void Stop()
    {
        if (s_dir is null)
        {
            return;
        }

        Exec(Script("slurm-down.sh"), [s_dir], TimeSpan.FromSeconds(60), withConf: false);
        if (s_startError is null && TestContext.CurrentContext.Result.FailCount == 0)
        {
            try
            {
                Directory.Delete(s_dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
        else
        {
            TestContext.Progress.WriteLine($"kept the private Slurm's directory (config, logs): {s_dir}");
        }
    }

    /// <summary>
    /// Points every client call at another cluster whose directory has the same layout (slurm.conf, log/), such as
    /// the namespace cluster of Tests/Cluster; <paramref name="startError"/> is what RequireUp reports if it did not start.
    /// </summary>
    internal static void Use(string dir, string? startError)
    {
        s_dir = dir;
        s_startError = startError;
    }

    /// <summary>Fails the test if the cluster did not start. Called by every Slurm test first.</summary>
    internal static void RequireUp()
    {
        if (s_startError is not null)
        {
            Assert.Fail(s_startError + "\nThe Slurm tests need root and the Debian packages: scripts/ensure-deps.sh test.");
        }
    }

    /// <summary>Runs a Slurm client (or any program) with this cluster's SLURM_CONF.</summary>
    internal static (int ExitCode, string Stdout, string Stderr) Exec(string file, IEnumerable<string> args, TimeSpan? timeout = null, bool withConf = true, Dictionary<string, string>? env = null)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            info.ArgumentList.Add(a);
        }

        if (withConf)
        {
            info.Environment["SLURM_CONF"] = Conf;
        }

        foreach (var (k, v) in env ?? [])
        {
            info.Environment[k] = v;
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromSeconds(30)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {string.Join(' ', args)} did not finish in time");
        }

        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs a Slurm client and fails the test with its output if it exits non-zero.</summary>
    internal static string Client(string tool, params string[] args)
    {
        var (rc, stdout, stderr) = Exec(tool, args);
        Assert.That(rc, Is.Zero, () => $"{tool} {string.Join(' ', args)} failed ({rc}): {stderr}{stdout}\n{ControllerLog()}");
        return stdout;
    }

    /// <summary>Submits <paramref name="script"/> (written to a file in <paramref name="workDir"/>); returns the job id.</summary>
    internal static int Sbatch(string workDir, string name, string script, string partition, params string[] extra)
    {
        string file = Path.Combine(workDir, name + ".sbatch");
        File.WriteAllText(file, script.ReplaceLineEndings("\n"));
        string output = Client("sbatch", ["--parsable", "--partition", partition, "--chdir", workDir,
            "--output", OutputFile(workDir, name), "--job-name", name, .. extra, file]);
        int job = int.Parse(output.Trim().Split(';')[0], CultureInfo.InvariantCulture);
        TestContext.Progress.WriteLine($"submitted {name} as job {job} to {partition}");
        return job;
    }

    internal static string OutputFile(string workDir, string name) => Path.Combine(workDir, name + ".out");

    /// <summary>The job as the controller sees it (finished jobs stay visible for MinJobAge = 10 minutes).</summary>
    internal static JobInfo Show(int job)
    {
        string text = Client("scontrol", "show", "job", "--oneliner", job.ToString(CultureInfo.InvariantCulture));
        string Field(string key) => Regex.Match(text, $@"(?:^|\s){key}=(\S*)") is { Success: true } m ? m.Groups[1].Value : "";
        return new JobInfo(Field("JobState"), int.Parse(Field("Restarts"), CultureInfo.InvariantCulture), Field("ExitCode"));
    }

    /// <summary>Polls the job until <paramref name="condition"/> holds; fails with the job output and controller log otherwise.</summary>
    internal static JobInfo WaitFor(int job, Func<JobInfo, bool> condition, string what, TimeSpan timeout, string? outputFile = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        JobInfo info;
        while (true)
        {
            info = Show(job);
            if (condition(info))
            {
                return info;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"job {job}: no {what} within {timeout.TotalSeconds:F0} s (last: {info}).\n{Describe(job, outputFile)}");
            }

            Thread.Sleep(200);
        }
    }

    /// <summary>Waits for a line matching <paramref name="pattern"/> in a job's output file; returns the match.</summary>
    internal static Match WaitForOutput(int job, string outputFile, string pattern, TimeSpan timeout)
    {
        var regex = new Regex(pattern, RegexOptions.Multiline);
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            string text = File.Exists(outputFile) ? File.ReadAllText(outputFile) : "";
            if (regex.Match(text) is { Success: true } m)
            {
                return m;
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"job {job}: /{pattern}/ did not appear in its output within {timeout.TotalSeconds:F0} s.\n{Describe(job, outputFile)}");
            }

            if (Show(job).IsFinal)
            {
                // The job's last lines are written by its slurmstepd: read the file once that has exited.
                var settled = DateTime.UtcNow + TimeSpan.FromSeconds(10);
                while (StepDaemons(job).Count > 0 && DateTime.UtcNow < settled)
                {
                    Thread.Sleep(100);
                }

                if (regex.Match(File.Exists(outputFile) ? File.ReadAllText(outputFile) : "") is { Success: true } last)
                {
                    return last;
                }

                Assert.Fail($"job {job} ended before printing /{pattern}/.\n{Describe(job, outputFile)}");
            }

            Thread.Sleep(200);
        }
    }

    /// <summary>
    /// A requeued job waits ~120 s (BeginTime) before it may start again. Once it is pending and its previous run is
    /// gone from the node, let it start in 2 s. Started earlier, the old batch step's late end was booked against the
    /// new run (JobState=COMPLETED after 0 s, srun: "aborted before step completely launched"); StartTime=now exactly
    /// raced the same way ("Job credential revoked"). A real cluster's 120 s wait never meets this.
    /// </summary>
    internal static void StartNow(int job, string? outputFile = null)
    {
        var timeout = TimeSpan.FromSeconds(GraceSeconds + 10);
        WaitFor(job, j => j.State == "PENDING" && StepDaemons(job).Count == 0
                && !Client("sinfo", "-h", "-o", "%T").Contains("completing", StringComparison.Ordinal),
            "PENDING state with the previous run's slurmstepd gone and the node no longer completing", timeout, outputFile);
        Client("scontrol", "update", $"JobId={job}", "StartTime=now+2");
    }

    /// <summary>Pids of this machine's slurmstepd processes for <paramref name="job"/> ("slurmstepd: [N.batch]", "[N.0]").</summary>
    internal static List<int> StepDaemons(int job)
    {
        string prefix = $"slurmstepd: [{job}.";
        return ProcessTable.Matching(command => command.StartsWith(prefix, StringComparison.Ordinal));
    }

    /// <summary>Job output, the controller's view of it, and the end of the controller log: for failure messages.</summary>
    internal static string Describe(int job, string? outputFile)
    {
        string output = outputFile is not null && File.Exists(outputFile) ? File.ReadAllText(outputFile) : "(no output file)";
        var (_, show, _) = Exec("scontrol", ["show", "job", job.ToString(CultureInfo.InvariantCulture)]);
        return $"--- job output ({outputFile}) ---\n{output}\n--- scontrol show job ---\n{show}\n{ControllerLog()}";
    }

    internal static string ControllerLog(int lines = 25)
    {
        string log = Path.Combine(Dir, "log", "slurmctld.log");
        string[] all = File.Exists(log) ? File.ReadAllLines(log) : [];
        return $"--- slurmctld.log (last {lines} lines) ---\n{string.Join('\n', all.TakeLast(lines))}";
    }
}

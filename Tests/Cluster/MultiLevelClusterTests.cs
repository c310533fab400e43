using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Coordinated.Tests.Infrastructure;
using Coordinated.Tests.Slurm;

namespace Coordinated.Tests.Cluster;

/// <summary>
/// Multi-level checkpoints (issue 14) on a simulated 6-node Slurm cluster (Tests/Cluster/cluster.sh): NBody on 8 ranks
/// over 4 nodes with a node-local level in each node's private <c>/local</c>, a partner copy on the next node, and
/// the global HDF5 snapshot every K checkpoints. A node dies and <c>mpi-run.sh -N 4</c> relaunches the step on a
/// spare inside the same allocation (<c>sbatch --no-kill</c>); two neighbouring nodes die; the job is preempted; a
/// local file is damaged; the local directory is full. Every run ends bitwise identical to the same run on one node.
/// </summary>
/// <remarks>
/// The moment of each failure is exact, not timed: rank 0 is held (COORDINATED_FAULT_PAUSE=step-boundary) just after
/// the checkpoint the test wants to be the newest, the test acts (kills nodes, damages a file, preempts), then
/// releases it. The relaunched run passes the same step without stopping (the release file is still there).
/// </remarks>
[Category("MultiLevelCluster")]
[NonParallelizable] // one cluster, and oversubscribed ranks
public class MultiLevelClusterTests() : ClusterFixture(new NamespaceCluster("crdl", "198.19.81", 6))
{
    private const int Particles = 1200;
    private const long Steps = 3000;
    private const int Every = 500;
    private static readonly TimeSpan s_run = TimeSpan.FromSeconds(180);

    // Its own name and subnet: never the MultiNode fixture's cluster (crdt, 198.19.78) nor another's.

    private static string[] NBodyArgs(string dir, params string[] more) =>
        ["--particles", Particles.ToString(CultureInfo.InvariantCulture), "--steps", Steps.ToString(CultureInfo.InvariantCulture),
         "--dt", "0.0005", "--seed", "11", "--report-every", Every.ToString(CultureInfo.InvariantCulture),
         "--checkpoint-every-steps", Every.ToString(CultureInfo.InvariantCulture),
         "--checkpoint-dir", Path.Combine(dir, "ckpt"), "--output", Path.Combine(dir, "out.h5"), .. more];

    /// <summary>The local level in each node's own /local, one directory per job; every K-th checkpoint also global.</summary>
    private static string[] Levels(int globalEvery, string localDir = "/local/%j") =>
        ["--checkpoint-local-dir", localDir, "--global-every", globalEvery.ToString(CultureInfo.InvariantCulture)];

    [OneTimeSetUp]
    public void StartClusterAndReference()
    {
        Cluster.Up();

        // The reference: one node (this machine), 2 ranks under mpirun, global snapshots only.
        string dir = Cluster.TestDir("reference");
        Assert.That(Cluster.RunReference(NBodyArgs(dir), Path.Combine(dir, "out.h5")), Has.Length.EqualTo(Particles * 3 * 8));
    }

    [Test]
    public void Losing_a_node_rebuilds_its_part_from_the_partner_copy_on_a_spare_inside_the_allocation_bitwise_identical()
    {
        // Checkpoints at 500 and 1000 are local + partner; the first global one would be the 100th.
        var run = KillAndRelaunch("partner", allocation: 5, Levels(globalEvery: 100), holdAfter: 1000, victims: ["node3"]);

        Assert.That(run.GlobalBeforeKill, Is.Empty, "no global snapshot may exist when the node dies: the newest checkpoint is local only");
        Assert.That(run.LevelsBeforeKill, Is.EqualTo(new[] { (500L, "local+partner"), (1000L, "local+partner") }),
            () => $"checkpoints 500 and 1000 must be local + partner.\n{run.Output}");
        Assert.That(run.Restart.Groups["level"].Value, Is.EqualTo("partner"), () => run.Output);
        Assert.That(run.Restart.Groups["step"].Value, Is.EqualTo("1000"));
        Assert.That(run.Restart.Groups["why"].Value, Does.Contain("node3 lost (replaced by node5): its part (ranks 4-5) rebuilt from node4's partner copy"),
            "the line names the lost node, the spare and the partner that served the copy");
        Assert.That(run.RestartEventLevel, Is.EqualTo("partner"), "metrics.jsonl: the restart event's level");
        Assert.That(run.Output, Does.Contain("mpi-run.sh: node lost: node3: Slurm says down"));
        Assert.That(run.Output, Does.Contain("relaunch 1 of at most 3 inside job").And.Contain("node3 -> node5"));
        Assert.That(run.Final, Is.EqualTo(new[] { "node1", "node1", "node2", "node2", "node5", "node5", "node4", "node4" }),
            "the spare takes the lost node's ranks; the others keep theirs");
    }

    [Test]
    public void Losing_two_neighbouring_nodes_falls_back_to_the_newest_global_snapshot_on_two_spares_bitwise_identical()
    {
        // 500 local, 1000 global, 1500 local: node2's own file and its partner copy (on node3) die together.
        var run = KillAndRelaunch("neighbours", allocation: 6, Levels(globalEvery: 2), holdAfter: 1500, victims: ["node2", "node3"]);

        Assert.That(run.GlobalBeforeKill, Is.EqualTo(new[] { "ckpt-000001000.h5" }), "the newest global snapshot is step 1000; step 1500 is local only");
        Assert.That(run.LevelsBeforeKill, Is.EqualTo(new[] { (500L, "local+partner"), (1000L, "local+partner"), (1000L, "global"), (1500L, "local+partner") }),
            () => run.Output);
        Assert.That(run.Restart.Groups["level"].Value, Is.EqualTo("global"), () => run.Output);
        Assert.That(run.Restart.Groups["step"].Value, Is.EqualTo("1000"));
        Assert.That(run.Output, Does.Contain("node2 -> node5").And.Contain("node3 -> node6"));
        Assert.That(run.Final, Is.EqualTo(new[] { "node1", "node1", "node5", "node5", "node6", "node6", "node4", "node4" }));
    }

    [Test]
    public void Damaged_local_file_fails_its_checksum_and_the_partner_copy_is_used_with_a_message_bitwise_identical()
    {
        // node3 dies (ranks 4-5 come from node4's partner copy), and node1's own file of step 1500 (ranks 0-1) is
        // damaged: its checksum fails, and node2's partner copy of ranks 0-1 serves instead.
        string? damaged = null;
        var run = KillAndRelaunch("damaged", allocation: 5, Levels(globalEvery: 2), holdAfter: 1500, victims: ["node3"],
            beforeKill: job => damaged = DamageLastByte("node1", $"/local/{job}", "nbody-000001500-ranks-0-1-of-8.own.lckpt"));

        TestContext.Progress.WriteLine($"damaged: {damaged}");
        Assert.That(run.Restart.Groups["level"].Value, Is.EqualTo("partner").Or.EqualTo("global"), () => run.Output);
        Assert.That(run.Output, Does.Match(@"(?im)^.*checksum.*$"), () => $"the damaged file must be reported.\n{run.Output}");
        Assert.That(run.Output, Does.Contain("nbody-000001500-ranks-0-1-of-8.own.lckpt"), "the message names the damaged file");
        if (run.Restart.Groups["level"].Value == "partner")
        {
            Assert.That(run.Restart.Groups["step"].Value, Is.EqualTo("1500"), "the partner copy of the damaged part is of the same step");
        }
    }

    [Test]
    public void Preempted_job_commits_a_global_snapshot_inside_grace_time_and_resumes_after_the_requeue_bitwise_identical()
    {
        string dir = Cluster.TestDir("preempt");
        string output = SlurmCluster.OutputFile(dir, "preempt");
        string hold = HoldDirectory(dir);
        int job = SlurmCluster.Sbatch(dir, "preempt",
            Cluster.BatchScript(NBodyArgs(dir, Levels(globalEvery: 100)), "-N 4 -n 8", HoldExports(hold, 1001)),
            "low", "--nodes=4", "--exclusive", "--no-kill");
        try
        {
            SlurmCluster.WaitForOutput(job, output, @"paused at step-boundary on rank 0, step 1001", s_run);
            Assert.That(GlobalSnapshots(dir), Is.Empty, "before the preemption the newest checkpoint is local only");
            var preemptAt = Stopwatch.StartNew();
            int high = SlurmCluster.Sbatch(dir, "high", "#!/bin/bash\necho high job ran on $SLURM_JOB_NODELIST\n", "high", $"--nodes={Cluster.Nodes}");
            SlurmCluster.WaitForOutput(job, output, @"SIGTERM arrived while paused at step-boundary on rank 0", TimeSpan.FromSeconds(60));
            File.WriteAllText(Path.Combine(hold, "release"), "");

            SlurmCluster.WaitFor(job, j => j.State == "PENDING" && j.Restarts == 1, "requeue after preemption",
                TimeSpan.FromSeconds(SlurmCluster.GraceSeconds + 30), output);
            double toPending = preemptAt.Elapsed.TotalSeconds;
            string first = File.ReadAllText(output);
            Assert.That(Regex.Matches(first, @"stopping after checkpoint of step 1001 \(signal SIGTERM\)"), Has.Count.EqualTo(1), () => first);
            Assert.That(first, Does.Contain($"job {job} requeued (restart 1"));
            Assert.That(toPending, Is.LessThan(SlurmCluster.GraceSeconds), "the global snapshot, the stop and the requeue must fit in GraceTime");
            Assert.That(GlobalSnapshots(dir), Is.EqualTo(new[] { "ckpt-000001001.h5" }), "a stop is always written to the global level");
            Assert.That(H5Py.Attributes(Path.Combine(dir, "ckpt", "ckpt-000001001.h5")).GetProperty("trigger").GetString(), Is.EqualTo("signal"));
            Assert.That(CheckpointLevels(dir).Single(l => l.Step == 1001).Level, Is.EqualTo("global"));
            TestContext.Progress.WriteLine(FormattableString.Invariant($"preempt: high job submitted -> global snapshot committed, low job requeued {toPending:F1} s"));

            SlurmCluster.WaitFor(high, j => j.State == "COMPLETED", "completion of the high job", s_run, SlurmCluster.OutputFile(dir, "high"));
            SlurmCluster.StartNow(job, output);
            var done = SlurmCluster.WaitFor(job, j => j.IsFinal, "end of the resumed run", s_run, output);
            string all = File.ReadAllText(output);
            Assert.That(done.State, Is.EqualTo("COMPLETED"), () => SlurmCluster.Describe(job, output));
            Assert.That(all, Does.Match(@"restart level: (local|partner|global) step 1001: "), "resumes from the step it stopped at");
            AssertSameBitsAsReference(dir);
        }
        finally
        {
            SlurmCluster.Exec("scancel", [job.ToString(CultureInfo.InvariantCulture)]);
        }
    }

    [Test]
    public void Full_local_directory_gives_one_warning_and_the_run_goes_on_with_global_checkpoints_only_bitwise_identical()
    {
        string[] nodes = ["node1", "node2", "node3", "node4"];
        foreach (string node in nodes)
        {
            // 8 KiB: a directory fits, a node's local file (about 17 KiB for 2 ranks) does not.
            Cluster.Command("exec", node, "sh", "-c", "mkdir -p /local/tiny && mount -t tmpfs -o size=8k tmpfs /local/tiny");
        }

        string dir = Cluster.TestDir("full");
        string output = SlurmCluster.OutputFile(dir, "full");
        try
        {
            int job = SlurmCluster.Sbatch(dir, "full", Cluster.BatchScript(NBodyArgs(dir, Levels(globalEvery: 3, "/local/tiny/%j")), "-N 4 -n 8"),
                "low", "--nodes=4", "--exclusive", "--no-kill");
            var done = SlurmCluster.WaitFor(job, j => j.IsFinal, "end of the run", s_run, output);
            string all = File.ReadAllText(output);
            Assert.That(done.State, Is.EqualTo("COMPLETED"), () => SlurmCluster.Describe(job, output));
            var warnings = Regex.Matches(all, @"^.*warning.*/local/tiny.*$", RegexOptions.Multiline | RegexOptions.IgnoreCase);
            Assert.That(warnings, Has.Count.EqualTo(1), () => $"one warning about the local directory.\n{all}");
            Assert.That(warnings[0].Value, Does.Contain("/local/tiny").And.Contain("global"), "the warning names the directory and says what happens instead");
            Assert.That(CheckpointLevels(dir), Is.EqualTo(Enumerable.Range(1, 6).Select(i => ((long)i * Every, "global")).ToArray()),
                () => $"every checkpoint must be global.\n{all}");
            AssertSameBitsAsReference(dir);
        }
        finally
        {
            foreach (string node in nodes)
            {
                Cluster.Command("exec", node, "sh", "-c", "umount /local/tiny 2>/dev/null; rmdir /local/tiny 2>/dev/null; true");
            }
        }
    }

    /// <summary>What a killed-and-relaunched run showed.</summary>
    private sealed record Relaunched(string Output, Match Restart, string? RestartEventLevel, string[] GlobalBeforeKill,
        (long Step, string Level)[] LevelsBeforeKill, string[] Final);

    /// <summary>
    /// Runs NBody on 8 ranks over 4 nodes of an allocation of <paramref name="allocation"/> nodes (the rest spares,
    /// <c>--no-kill</c>), holds rank 0 just after the checkpoint of step <paramref name="holdAfter"/>, kills
    /// <paramref name="victims"/>, lets it go and checks what every relaunch must: the step is relaunched inside the
    /// allocation (never requeued: Restarts stays 0), the run resumes once and ends COMPLETED, bitwise identical to the
    /// 1-node run. The nodes are started again afterwards.
    /// </summary>
    private Relaunched KillAndRelaunch(string name, int allocation, string[] levels, long holdAfter, string[] victims, Action<int>? beforeKill = null)
    {
        string dir = Cluster.TestDir(name);
        string output = SlurmCluster.OutputFile(dir, name);
        string hold = HoldDirectory(dir);
        int job = SlurmCluster.Sbatch(dir, name, Cluster.BatchScript(NBodyArgs(dir, levels), "-N 4 -n 8", HoldExports(hold, holdAfter + 1)),
            "low", $"--nodes={allocation}", "--exclusive", "--no-kill");
        try
        {
            SlurmCluster.WaitForOutput(job, output, $@"paused at step-boundary on rank 0, step {holdAfter + 1}\b", s_run);
            string[] globalBefore = GlobalSnapshots(dir);
            var levelsBefore = CheckpointLevels(dir);
            beforeKill?.Invoke(job);

            var killed = Stopwatch.StartNew();
            foreach (string victim in victims)
            {
                Cluster.Command("kill-node", victim);
            }

            File.WriteAllText(Path.Combine(hold, "release"), "");
            SlurmCluster.WaitForOutput(job, output, @"^mpi-run\.sh: relaunch 1 of at most", s_run);
            double relaunched = killed.Elapsed.TotalSeconds;
            var restart = SlurmCluster.WaitForOutput(job, output, @"restart level: (?<level>local|partner|global) step (?<step>\d+): (?<why>.*)$", s_run);
            double resumed = killed.Elapsed.TotalSeconds;
            var done = SlurmCluster.WaitFor(job, j => j.IsFinal, "end of the relaunched run", s_run, output);
            string all = File.ReadAllText(output);
            TestContext.Progress.WriteLine(FormattableString.Invariant(
                $"{name}: {string.Join('+', victims)} killed -> step relaunched {relaunched:F1} s, ranks restored ({restart.Groups["level"].Value} step {restart.Groups["step"].Value}) {resumed:F1} s: {restart.Groups["why"].Value}"));

            Assert.That(done.State, Is.EqualTo("COMPLETED"), () => SlurmCluster.Describe(job, output));
            Assert.That(done.Restarts, Is.Zero, "relaunched inside the allocation: the job never went back to the queue");
            Assert.That(all, Does.Not.Contain("requeued"));
            Assert.That(Regex.Matches(all, @"restart level: (local|partner|global) step"), Has.Count.EqualTo(1), "exactly one restart, with one level line");
            Assert.That(all, Does.Contain("the runtime chooses the restart level"));
            Assert.That(Directory.Exists($"/local/{job}"), Is.False, "the local level must be in the nodes' own /local, never in the host's");
            AssertSameBitsAsReference(dir);
            var events = Metrics(dir);
            string? restartLevel = events.LastOrDefault(e => e.GetProperty("event").GetString() == "restart") is { ValueKind: JsonValueKind.Object } r
                && r.TryGetProperty("level", out var l) ? l.GetString() : null;
            return new Relaunched(all, restart, restartLevel, globalBefore, levelsBefore,
                NamespaceCluster.Hosts(Path.Combine(dir, "ckpt", $"ckpt-{Steps:D9}.h5")));
        }
        finally
        {
            foreach (string victim in victims)
            {
                Cluster.Command("start-node", victim);
            }

            SlurmCluster.Exec("scancel", [job.ToString(CultureInfo.InvariantCulture)]);
        }
    }

    /// <summary>Flips the last byte (array data, under a CRC32C) of FILE in DIR on NODE, inside the node's own /local.</summary>
    private string DamageLastByte(string node, string directory, string file)
    {
        string path = $"{directory}/{file}";
        Cluster.Command("exec", node, Repo.DebianPython, "-c",
            "import sys; p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); b[-1] ^= 0xFF; open(p, 'r+b').write(b)", path);
        return $"{node}:{path}";
    }

    private static string HoldDirectory(string dir)
    {
        string hold = Path.Combine(dir, "hold");
        Directory.CreateDirectory(hold);
        return hold;
    }

    /// <summary>Rank 0 waits at the boundary of <paramref name="step"/> until HOLD/release exists (Runtime/Checkpointing/FaultInjection.cs).</summary>
    private static string HoldExports(string hold, long step) =>
        $"export COORDINATED_FAULT_PAUSE=step-boundary COORDINATED_FAULT_STEP={step} COORDINATED_FAULT_RANK=0 COORDINATED_FAULT_RELEASE={hold}";

    private static string[] GlobalSnapshots(string dir) =>
        Directory.Exists(Path.Combine(dir, "ckpt"))
            ? [.. Directory.GetFiles(Path.Combine(dir, "ckpt"), "ckpt-*.h5").Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal)]
            : [];

    private static List<JsonElement> Metrics(string dir)
    {
        string file = Path.Combine(dir, "ckpt", "metrics.jsonl");
        return File.Exists(file)
            ? [.. File.ReadLines(file).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement.Clone())]
            : [];
    }

    /// <summary>Step and level of every committed checkpoint in metrics.jsonl, in order.</summary>
    private static (long Step, string Level)[] CheckpointLevels(string dir) =>
        [.. Metrics(dir).Where(e => e.GetProperty("event").GetString() == "checkpoint")
            .Select(e => (e.GetProperty("step").GetInt64(), e.TryGetProperty("level", out var l) ? l.GetString() ?? "" : "(no level)"))];

    private void AssertSameBitsAsReference(string dir) => Cluster.AssertSameBitsAsReference(Path.Combine(dir, "out.h5"));
}

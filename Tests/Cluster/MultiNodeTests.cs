using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Coordinated.Tests.Infrastructure;
using Coordinated.Tests.Slurm;

namespace Coordinated.Tests.Cluster;

/// <summary>
/// NBody across the nodes of a simulated Slurm cluster (Tests/Cluster/cluster.sh: 4 nodes, each its own network, UTS
/// and mount namespace with its own slurmd, ranks on different nodes talking TCP over a bridge): a run over 4 nodes,
/// preemption with a node drained meanwhile, a node dying (with a spare node, and with a node range that shrinks),
/// the time-limit warning, and the checkpoint-directory lock across nodes. Every finished run is bitwise the 1-node run.
/// </summary>
[Category("MultiNode")]
[NonParallelizable] // one cluster, and oversubscribed ranks
public class MultiNodeTests() : ClusterFixture(new NamespaceCluster("crdt", "198.19.78", Nodes))
{
    private const int Particles = 1200;
    private const long Steps = 3000;
    private const int Nodes = 4;

    /// <summary>How long the step may outlive a dead node: SlurmdTimeout (10 s) + ping interval + KillWait, with room for load.</summary>
    private const double NodeDeathBoundSeconds = 45;

    private static readonly TimeSpan s_run = TimeSpan.FromSeconds(180);

    private static string[] NBodyArgs(string checkpointDir, string output, long steps = Steps, params string[] more) =>
        ["--particles", Particles.ToString(CultureInfo.InvariantCulture), "--steps", steps.ToString(CultureInfo.InvariantCulture),
         "--dt", "0.0005", "--seed", "11", "--report-every", Math.Min(steps, 500).ToString(CultureInfo.InvariantCulture),
         "--checkpoint-dir", checkpointDir, "--output", output, .. more];

    /// <summary>
    /// A node range that can shrink on requeue. Not <c>--ntasks-per-node</c>: Slurm 22.05 fixes a job's task count at
    /// its first start (8 on 4 nodes), so a requeued <c>-N 3-4 --ntasks-per-node=2</c> job then waits for 4 nodes
    /// (ReqNodeNotAvail). Whole nodes instead, and the ranks per node set in the batch script (SLURM_NTASKS_PER_NODE).
    /// </summary>
    private static readonly string[] s_nodeRange = ["--nodes=3-4", "--exclusive"];

    [OneTimeSetUp]
    public void StartClusterAndReference()
    {
        Cluster.Up();

        // The reference: one node (this machine), 2 ranks under mpirun.
        string refDir = Path.Combine(Cluster.Shared, "reference");
        byte[] pos = Cluster.RunReference(NBodyArgs(Path.Combine(refDir, "ckpt"), Path.Combine(refDir, "ref.h5")), Path.Combine(refDir, "ref.h5"));
        Assert.That(pos, Has.Length.EqualTo(Particles * 3 * 8));
        Assert.That(Hosts(Path.Combine(refDir, "ref.h5")), Is.EqualTo(new[] { Environment.MachineName, Environment.MachineName }),
            "a single-node run records its host for every rank too");
    }

    [Test]
    public void Sbatch_N_4_runs_NBody_on_8_ranks_over_4_nodes_bitwise_identical_to_one_node()
    {
        string dir = TestDir("across");
        int job = SlurmCluster.Sbatch(dir, "across", BatchScript(NBodyArgs(Path.Combine(dir, "ckpt"), Path.Combine(dir, "out.h5"), Steps, "--checkpoint-every-steps", "1000")),
            "low", "--nodes=4", "--ntasks-per-node=2");
        string output = SlurmCluster.OutputFile(dir, "across");
        var done = SlurmCluster.WaitFor(job, j => j.IsFinal, "end", s_run, output);
        Assert.That(done.State, Is.EqualTo("COMPLETED"), () => SlurmCluster.Describe(job, output));
        Assert.That(File.ReadAllText(output), Does.Contain("on 8 rank(s)").And.Contain($"finished at step {Steps}"));
        AssertSameBitsAsReference(Path.Combine(dir, "out.h5"));

        string[] hosts = Hosts(Path.Combine(dir, "ckpt", "ckpt-000002000.h5"));
        Assert.That(hosts, Is.EqualTo(new[] { "node1", "node1", "node2", "node2", "node3", "node3", "node4", "node4" }),
            "the snapshot must record the host of every rank, in rank order");
    }

    [Test]
    public void Preempted_4_node_job_checkpoints_in_grace_time_and_resumes_on_3_nodes_after_a_drain_bitwise_identical()
    {
        string dir = TestDir("preempt");
        string output = SlurmCluster.OutputFile(dir, "preempt");
        int job = SlurmCluster.Sbatch(dir, "preempt", BatchScript(NBodyArgs(Path.Combine(dir, "ckpt"), Path.Combine(dir, "out.h5"), Steps, "--checkpoint-every-steps", "500")),
            "low", s_nodeRange);
        try
        {
            SlurmCluster.WaitForOutput(job, output, @"checkpoint step 500 \(every-steps\)", s_run);
            Assert.That(File.ReadAllText(output), Does.Contain("on 8 rank(s)"));
            // node4 may not take part in the next run; the job keeps running on it until it is preempted.
            SlurmCluster.Client("scontrol", "update", "NodeName=node4", "State=DRAIN", "Reason=multinode-test");
            DateTime preemptAt = DateTime.UtcNow;
            int high = SlurmCluster.Sbatch(dir, "high", "#!/bin/bash\necho high job ran on $SLURM_JOB_NODELIST\n", "high", "--nodes=3", "--ntasks-per-node=2");

            var pending = SlurmCluster.WaitFor(job, j => j.State == "PENDING" && j.Restarts == 1, "requeue after preemption",
                TimeSpan.FromSeconds(SlurmCluster.GraceSeconds + 30), output);
            double toPending = (DateTime.UtcNow - preemptAt).TotalSeconds;
            string first = File.ReadAllText(output);
            Assert.That(Regex.Matches(first, @"stopping after checkpoint of step \d+ \(signal SIGTERM\)"), Has.Count.EqualTo(1),
                () => $"one coordinated snapshot on preemption.\n{SlurmCluster.Describe(job, output)}");
            Assert.That(first, Does.Contain($"job {job} requeued (restart 1"));
            Assert.That(toPending, Is.LessThan(SlurmCluster.GraceSeconds), "snapshot, stop and requeue must finish inside GraceTime");
            TestContext.Progress.WriteLine(FormattableString.Invariant($"preempt: high job submitted -> low job requeued {toPending:F1} s"));
            SlurmCluster.WaitFor(high, j => j.State == "COMPLETED", "completion of the high job", s_run, SlurmCluster.OutputFile(dir, "high"));

            SlurmCluster.StartNow(job, output);
            var done = SlurmCluster.WaitFor(job, j => j.IsFinal, "end of the resumed run", s_run, output);
            string all = File.ReadAllText(output);
            Assert.That(done.State, Is.EqualTo("COMPLETED"), () => SlurmCluster.Describe(job, output));
            Assert.That(all, Does.Match(@"resumed from step \d+ \(restart 1\) from ckpt-\d+\.h5, written by 8 rank"));
            Assert.That(all, Does.Contain($"on 6 rank(s), dt 0.0005, eps 0.01, step"));
            AssertSameBitsAsReference(Path.Combine(dir, "out.h5"));
            Assert.That(Hosts(Path.Combine(dir, "ckpt", "ckpt-000003000.h5")).Distinct(), Is.EquivalentTo(new[] { "node1", "node2", "node3" }));
        }
        finally
        {
            SlurmCluster.Client("scontrol", "update", "NodeName=node4", "State=RESUME");
        }
    }

    [Test]
    public void Losing_a_node_with_a_spare_node_requeues_and_resumes_on_as_many_nodes_bitwise_identical() =>
        LoseNodeResumeFinish("spare", ["--nodes=3", "--ntasks-per-node=2"], victim: "node2", ranksAfter: 6, nodesAfter: ["node1", "node3", "node4"]);

    [Test]
    public void Losing_a_node_of_a_node_range_job_resumes_on_the_3_nodes_left_with_6_ranks_bitwise_identical() =>
        LoseNodeResumeFinish("range", s_nodeRange, victim: "node4", ranksAfter: 6, nodesAfter: ["node1", "node2", "node3"]);

    /// <summary>
    /// Runs NBody, kills <paramref name="victim"/> (every process in it, its slurmd included, its /local gone) after
    /// the first snapshot, and checks: the step ends within <see cref="NodeDeathBoundSeconds"/>, Slurm marks the node
    /// down and requeues the job, which resumes from the newest committed snapshot on the nodes left and ends bitwise
    /// identical to the 1-node run. The node is started again afterwards.
    /// </summary>
    private void LoseNodeResumeFinish(string name, string[] nodes, string victim, int ranksAfter, string[] nodesAfter)
    {
        string dir = TestDir(name);
        string output = SlurmCluster.OutputFile(dir, name);
        int job = SlurmCluster.Sbatch(dir, name, BatchScript(NBodyArgs(Path.Combine(dir, "ckpt"), Path.Combine(dir, "out.h5"), Steps, "--checkpoint-every-steps", "500")),
            "low", nodes);
        try
        {
            SlurmCluster.WaitForOutput(job, output, @"checkpoint step 500 \(every-steps\)", s_run);
            ClusterCommand("exec", victim, "touch", "/local/scratch-of-" + name);
            Assert.That(ClusterCommand("exec", "node1", "ls", "-a", "/local"), Does.Not.Contain("scratch-of-" + name), "/local is node-local");

            var killedAt = Stopwatch.StartNew();
            ClusterCommand("kill-node", victim);
            SlurmCluster.WaitFor(job, j => j.State != "RUNNING", "end of the step on the surviving nodes",
                TimeSpan.FromSeconds(NodeDeathBoundSeconds), output);
            double stepEnded = killedAt.Elapsed.TotalSeconds;
            var pending = SlurmCluster.WaitFor(job, j => j.State == "PENDING" && j.Restarts == 1, "requeue after the node failure", s_run, output);
            double requeued = killedAt.Elapsed.TotalSeconds;
            Assert.That(SlurmCluster.Client("sinfo", "-h", "-n", victim, "-o", "%T").Trim(), Does.StartWith("down"), "Slurm must mark the dead node down");

            SlurmCluster.StartNow(job, output);
            var resumedLine = SlurmCluster.WaitForOutput(job, output, @"resumed from step (\d+) \(restart 1\)", s_run);
            double resumed = killedAt.Elapsed.TotalSeconds;
            var done = SlurmCluster.WaitFor(job, j => j.IsFinal, "end of the resumed run", s_run, output);
            string all = File.ReadAllText(output);
            Assert.That(done.State, Is.EqualTo("COMPLETED"), () => SlurmCluster.Describe(job, output));

            // The newest snapshot committed before the kill is the one resumed from.
            long newestBefore = Regex.Matches(all[..all.IndexOf("(restart 1)", StringComparison.Ordinal)], @"checkpoint step (\d+) \(every-steps\)")
                .Select(m => long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).Max();
            Assert.That(long.Parse(resumedLine.Groups[1].Value, CultureInfo.InvariantCulture), Is.EqualTo(newestBefore));
            Assert.That(all, Does.Contain($"on {ranksAfter} rank(s), dt 0.0005, eps 0.01, step {newestBefore}"));
            AssertSameBitsAsReference(Path.Combine(dir, "out.h5"));
            Assert.That(Hosts(Path.Combine(dir, "ckpt", "ckpt-000003000.h5")).Distinct(), Is.EquivalentTo(nodesAfter));
            TestContext.Progress.WriteLine(FormattableString.Invariant(
                $"{name}: {victim} killed -> step ended {stepEnded:F1} s (bound {NodeDeathBoundSeconds} s), job requeued {requeued:F1} s, resumed (after StartTime=now+2) {resumed:F1} s"));
        }
        finally
        {
            ClusterCommand("start-node", victim);
            SlurmCluster.Exec("scancel", [job.ToString(CultureInfo.InvariantCulture)]);
        }

        Assert.That(ClusterCommand("exec", victim, "ls", "-a", "/local"), Does.Not.Contain("scratch-of-" + name), "a dead node's local scratch is gone");
    }

    [Test]
    public void Time_limit_warning_to_the_batch_shell_stops_every_rank_on_every_node_at_one_step()
    {
        string dir = TestDir("warning");
        string output = SlurmCluster.OutputFile(dir, "warning");
        // USR1 to the batch shell 100 s before the limit; the runtime's own reserve (10 s) comes later. Slurm sends the
        // warning up to 60 s early (sbatch(1), --signal), so with a 2-minute limit from the start it could come while
        // mpirun is still starting the ranks (a stop during start-up, nothing to check; seen on a loaded machine). The job starts with a
        // 10-minute limit; once every rank steps, the limit drops to 2 minutes and the warning is due at once.
        int job = SlurmCluster.Sbatch(dir, "warning", BatchScript(NBodyArgs(Path.Combine(dir, "ckpt"), Path.Combine(dir, "out.h5"), 10_000_000,
            "--walltime-reserve", "10")), "low", "--nodes=4", "--ntasks-per-node=2", "--time=10", "--signal=B:USR1@100");
        try
        {
            SlurmCluster.WaitForOutput(job, output, @"^nbody: .* on 8 rank\(s\)", s_run);
            SlurmCluster.Client("scontrol", "update", $"JobId={job}", "TimeLimit=2");
            var pending = SlurmCluster.WaitFor(job, j => j.State == "PENDING" && j.Restarts == 1, "stop and requeue after the USR1 warning", s_run, output);
            string text = File.ReadAllText(output);
            var stop = Regex.Match(text, @"stopping after checkpoint of step (\d+) \(signal SIGUSR1\)");
            Assert.That(stop.Success, Is.True, () => $"no coordinated stop on the USR1 warning.\n{SlurmCluster.Describe(job, output)}");
            Assert.That(text, Does.Contain("mpi-run.sh: got SIGUSR1"));
            string snapshot = Path.Combine(dir, "ckpt", $"ckpt-{long.Parse(stop.Groups[1].Value, CultureInfo.InvariantCulture):D9}.h5");
            var attributes = H5Py.Attributes(snapshot);
            Assert.That(attributes.GetProperty("trigger").GetString(), Is.EqualTo("signal"));
            Assert.That(attributes.GetProperty("ranks").GetInt64(), Is.EqualTo(8), "all 8 ranks wrote the one snapshot of the agreed step");
            Assert.That(Hosts(snapshot).Distinct(), Is.EquivalentTo(new[] { "node1", "node2", "node3", "node4" }));
            Assert.That(pending.Restarts, Is.EqualTo(1));
        }
        finally
        {
            SlurmCluster.Exec("scancel", [job.ToString(CultureInfo.InvariantCulture)]);
        }
    }

    [Test]
    public void Second_job_on_the_same_checkpoint_directory_from_another_node_is_refused_naming_the_first_host()
    {
        string dir = TestDir("lock");
        string ckpt = Path.Combine(dir, "ckpt");
        string[] args = NBodyArgs(ckpt, Path.Combine(dir, "out.h5"), 10_000_000);
        int first = SlurmCluster.Sbatch(dir, "first", BatchScript(args), "low", "--nodelist=node1", "--nodes=1", "--ntasks=2", "--no-requeue");
        try
        {
            SlurmCluster.WaitForOutput(first, SlurmCluster.OutputFile(dir, "first"), @"on 2 rank\(s\)", s_run);
            string owner = Path.Combine(ckpt, ".coordinated.owner");
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (!File.Exists(owner))
            {
                Assert.That(DateTime.UtcNow, Is.LessThan(deadline), () => $"the first job never took the lock.\n{SlurmCluster.Describe(first, SlurmCluster.OutputFile(dir, "first"))}");
                Thread.Sleep(100);
            }

            int second = SlurmCluster.Sbatch(dir, "second", BatchScript(args), "low", "--nodelist=node2", "--nodes=1", "--ntasks=2", "--no-requeue");
            string output = SlurmCluster.OutputFile(dir, "second");
            var done = SlurmCluster.WaitFor(second, j => j.IsFinal, "refusal", s_run, output);
            Assert.That(done.ExitCode, Is.EqualTo("73:0"), () => SlurmCluster.Describe(second, output));
            Assert.That(File.ReadAllText(output), Does.Contain($"is in use by another run: nbody pid").And.Contain($"on node1, Slurm job {first}"),
                "the refusal must name the first job's host and job");
            Assert.That(SlurmCluster.Show(first).State, Is.EqualTo("RUNNING"), "the first job goes on");
        }
        finally
        {
            SlurmCluster.Exec("scancel", ["--signal=KILL", "--full", first.ToString(CultureInfo.InvariantCulture)]);
            SlurmCluster.WaitFor(first, j => j.IsFinal, "end of the first job", TimeSpan.FromSeconds(60));
        }
    }

    private string BatchScript(IEnumerable<string> appArgs) => Cluster.BatchScript(appArgs);

    private string TestDir(string name) => Cluster.TestDir(name);

    private void AssertSameBitsAsReference(string file) => Cluster.AssertSameBitsAsReference(file);

    private static string[] Hosts(string snapshot) => NamespaceCluster.Hosts(snapshot);

    private string ClusterCommand(params string[] args) => Cluster.Command(args);
}

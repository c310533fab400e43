using Coordinated.Tests.Infrastructure;

namespace Coordinated.Tests.Launcher;

/// <summary>
/// mpi-run.sh's decisions after a failed step inside an allocation (scripts/relaunch.sh): relaunch on a spare in the
/// lost node's place, the relaunch limit, no spare left, a failure that is no node's death, a node that Slurm marks
/// down only after the step ended. Run against stand-ins of srun, scontrol and sinfo that play a 5-node job (each
/// srun call runs the test's script for that call: mark a node down, leave the job's node list, exit 137), so every
/// path is exact and takes a second. The real thing, on a simulated cluster with real node deaths, is
/// Tests/Cluster/MultiLevelClusterTests.cs. Also: -N and --max-relaunches with bad values exit 64.
/// </summary>
[Category("Launcher")]
public sealed class RelaunchTests
{
    /// <summary>srun's step failing because node3 died: Slurm marks it down and drops it from the job (--no-kill).</summary>
    private const string KillNode3 = "lose node3; exit 137";

    [Test]
    public void A_lost_node_is_replaced_in_place_by_a_spare_and_the_step_relaunched_inside_the_job()
    {
        using var job = new FakeJob(nodes: 5);
        job.OnSrun(1, KillNode3);
        using var run = job.Launch("-N", "4", "-n", "8");
        run.ExpectExit(0);

        Assert.That(job.Calls, Has.Length.EqualTo(2), run.Stderr);
        Assert.That(job.Hostfile(1), Is.EqualTo("node1,node1,node2,node2,node3,node3,node4,node4"), "block-wise on the first 4 nodes");
        Assert.That(job.Hostfile(2), Is.EqualTo("node1,node1,node2,node2,node5,node5,node4,node4"), "the spare takes node3's place and its ranks 4-5");
        Assert.That(job.Call(1), Does.Contain("srun --mpi=pmix -n 8 --distribution=arbitrary --kill-on-bad-exit=1"));
        Assert.That(job.Call(1), Does.Contain("relaunch=0 replaced=\n"));
        Assert.That(job.Call(2), Does.Contain("--kill-on-bad-exit=1 --overlap "), "the failed step may linger in Slurm: the relaunch shares its CPUs");
        Assert.That(job.Call(2), Does.Contain("relaunch=1 replaced=node3:node5\n"));
        Assert.That(run.Stderr, Does.Contain("mpi-run.sh: 8 rank(s) on node1 node2 node3 node4 (block-wise); spare node(s) of job 42: node5"));
        Assert.That(run.Stderr, Does.Contain("mpi-run.sh: node lost: node3: Slurm says down* (Not responding); the step ended with exit 137"));
        Assert.That(run.Stderr, Does.Contain("mpi-run.sh: relaunch 1 of at most 3 inside job 42 (no requeue): node3 -> node5"));
        Assert.That(run.Stderr, Does.Contain("the runtime chooses the restart level"));
        Assert.That(job.Requeues, Is.Empty);
    }

    [Test]
    public void After_the_last_allowed_relaunch_a_lost_node_sends_the_job_back_to_the_queue()
    {
        using var job = new FakeJob(nodes: 6);
        job.OnSrun(1, KillNode3);
        job.OnSrun(2, "lose node5; exit 137");
        using var run = job.Launch("-N", "4", "-n", "8", "--max-relaunches", "1");
        run.ExpectExit(137);

        Assert.That(job.Calls, Has.Length.EqualTo(2), "one relaunch, then no more although node6 is spare");
        Assert.That(run.Stderr, Does.Contain("not relaunching: the step was relaunched 1 time(s) already (limit 1: --max-relaunches or COORDINATED_MAX_RELAUNCHES)"));
        Assert.That(run.Stderr, Does.Contain("mpi-run.sh: node(s) node5 lost, no relaunch left; job 42 requeued (restart 1 of at most 5)."));
        Assert.That(job.Requeues, Is.EqualTo(new[] { "requeue 42" }));
    }

    [Test]
    public void Without_a_spare_node_the_job_is_requeued_with_the_reason()
    {
        using var job = new FakeJob(nodes: 4);
        job.OnSrun(1, KillNode3);
        using var run = job.Launch("-N", "4", "-n", "8");
        run.ExpectExit(137);

        Assert.That(job.Calls, Has.Length.EqualTo(1));
        Assert.That(run.Stderr, Does.Contain("spare node(s) of job 42: none"));
        Assert.That(run.Stderr, Does.Contain("not relaunching: 1 node(s) lost but 0 spare(s) left in job 42"));
        Assert.That(job.Requeues, Is.EqualTo(new[] { "requeue 42" }));
    }

    [Test]
    public void Without_N_the_step_uses_every_node_so_a_lost_node_means_a_requeue_and_a_crash_no_wait()
    {
        using (var job = new FakeJob(nodes: 4))
        {
            job.OnSrun(1, KillNode3);
            using var run = job.Launch("-n", "8");
            run.ExpectExit(137);
            Assert.That(job.Call(1), Does.Contain("srun --mpi=pmix -n 8 --kill-on-bad-exit=1").And.Contain("hostfile \n"));
            Assert.That(run.Stderr, Does.Contain("not relaunching: no spare node (the step used every node of job 42;"));
            Assert.That(job.Requeues, Is.EqualTo(new[] { "requeue 42" }));
        }

        using (var job = new FakeJob(nodes: 4))
        {
            job.OnSrun(1, "exit 134");
            using var run = job.Launch("-n", "8");
            run.ExpectExit(134);
            Assert.That(run.Stderr, Does.Not.Contain("asking Slurm for up to"), "without a spare there is nothing to wait for");
            Assert.That(run.Stderr, Does.Contain("Slurm reports no lost node among the step's (node1 node2 node3 node4)"));
            Assert.That(job.Requeues, Is.Empty);
        }
    }

    [Test]
    public void A_step_that_fails_with_every_node_alive_is_neither_relaunched_nor_requeued()
    {
        using var job = new FakeJob(nodes: 5);
        job.OnSrun(1, "exit 1");
        using var run = job.LaunchWith(new() { ["COORDINATED_NODE_LOSS_WAIT"] = "1" }, "-N", "4", "-n", "8");
        run.ExpectExit(1);

        Assert.That(job.Calls, Has.Length.EqualTo(1));
        Assert.That(run.Stderr, Does.Contain("the step failed (exit 1); asking Slurm for up to 1 s whether one of its nodes (node1 node2 node3 node4) died"));
        Assert.That(run.Stderr, Does.Contain("Slurm reports no lost node among the step's (node1 node2 node3 node4): the step failed by itself (exit 1); not relaunched"));
        Assert.That(job.Requeues, Is.Empty);
    }

    [Test]
    public void When_Slurm_does_not_answer_no_node_is_taken_for_lost()
    {
        using var job = new FakeJob(nodes: 5);
        job.OnSrun(1, "touch \"$STATE/sinfo-fails\"; exit 137");
        using var run = job.LaunchWith(new() { ["COORDINATED_NODE_LOSS_WAIT"] = "1" }, "-N", "4", "-n", "8");
        run.ExpectExit(137);

        Assert.That(job.Calls, Has.Length.EqualTo(1));
        Assert.That(run.Stderr, Does.Contain("Slurm reports no lost node among the step's (node1 node2 node3 node4): the step failed by itself (exit 137); not relaunched"));
        Assert.That(run.Stderr, Does.Not.Contain("node lost"));
        Assert.That(job.Requeues, Is.Empty);
    }

    [Test]
    public void A_node_that_Slurm_marks_down_after_the_step_ended_is_still_found_and_replaced()
    {
        using var job = new FakeJob(nodes: 5);
        // The ranks saw their peer vanish and the step ended before slurmctld's ping found node3 dead.
        job.OnSrun(1, "( sleep 1; lose node3 ) & exit 143");
        using var run = job.LaunchWith(new() { ["COORDINATED_NODE_LOSS_WAIT"] = "30" }, "-N", "4", "-n", "8");
        run.ExpectExit(0);

        Assert.That(run.Stderr, Does.Contain("the step failed (exit 143); asking Slurm for up to 30 s"));
        Assert.That(run.Stderr, Does.Contain("relaunch 1 of at most 3 inside job 42 (no requeue): node3 -> node5"));
        Assert.That(job.Hostfile(2), Is.EqualTo("node1,node1,node2,node2,node5,node5,node4,node4"));
    }

    [Test]
    public void A_stop_signal_before_the_ranks_start_stops_the_launch_with_75_and_the_job_is_requeued()
    {
        using var job = new FakeJob(nodes: 5);
        job.SignalOnFirstSinfo("USR1"); // the time-limit warning while mpi-run.sh still picks the step's nodes
        using var run = job.Launch("-N", "4", "-n", "8");
        job.Started(run);
        run.ExpectExit(75);

        Assert.That(job.Calls, Is.Empty, "no rank is started after the stop");
        Assert.That(run.Stderr, Does.Contain("mpi-run.sh: got SIGUSR1 before the ranks were started"));
        Assert.That(run.Stderr, Does.Contain("mpi-run.sh: stopping before the ranks start (SIGUSR1); nothing new to save; rerun the same command to resume"));
        Assert.That(run.Stderr, Does.Contain("mpi-run.sh: stopped with nothing new to save; job 42 requeued (restart 1 of at most 5)."));
        Assert.That(job.Requeues, Is.EqualTo(new[] { "requeue 42" }));
    }

    [Test]
    public void Ranks_that_die_of_the_forwarded_stop_signal_while_starting_end_the_step_with_75_and_the_job_is_requeued()
    {
        using var job = new FakeJob(nodes: 4);
        // A rank that has not yet installed its handlers dies of the USR1 mpi-run.sh forwards (exit 128 + 10).
        job.OnSrun(1, "trap 'exit 138' USR1; kill -s TERM $PPID; while :; do sleep 0.05; done");
        using var run = job.Launch("-n", "8");
        run.ExpectExit(75);

        Assert.That(job.Calls, Has.Length.EqualTo(1), "not relaunched");
        Assert.That(run.Stderr, Does.Contain("mpi-run.sh: got SIGTERM, asking all ranks to checkpoint and stop"));
        Assert.That(run.Stderr, Does.Contain("mpi-run.sh: the step ended with exit 138 after SIGTERM (ranks still starting die of the signal); nothing new was committed; stopping as if checkpointed"));
        Assert.That(run.Stderr, Does.Not.Contain("the step failed by itself"));
        Assert.That(run.Stderr, Does.Contain("mpi-run.sh: stopped with nothing new to save; job 42 requeued (restart 1 of at most 5)."));
        Assert.That(job.Requeues, Is.EqualTo(new[] { "requeue 42" }));
    }

    [TestCase("-N", "0")]
    [TestCase("-N", "-2")]
    [TestCase("-N", "abc")]
    [TestCase("-N", "")]
    [TestCase("-N")]
    [TestCase("-N", "4", "-n", "3")]
    [TestCase("-N", "6")]
    [TestCase("--max-relaunches", "-1")]
    [TestCase("--max-relaunches", "x")]
    [TestCase("--max-relaunches", "")]
    [TestCase("--max-relaunches")]
    public void Bad_node_count_or_relaunch_limit_exits_64_with_one_line_naming_the_flag(params string[] args)
    {
        using var job = new FakeJob(nodes: 5);
        using var run = job.Launch(args);
        run.ExpectExit(64);
        string[] lines = run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1), run.Stderr);
        Assert.That(lines[0], Does.StartWith("error: ").And.Contain(args[0]));
        Assert.That(run.Stdout, Is.Empty);
        Assert.That(job.Calls, Is.Empty, "nothing may run");
    }

    [Test]
    public void Several_nodes_outside_Slurm_exit_64()
    {
        using var run = Job.Start(Path.Combine(Repo.Root, "mpi-run.sh"), ["-N", "2", Repo.CounterDll], new Dictionary<string, string> { ["SLURM_JOB_ID"] = "" });
        run.ExpectExit(64);
        Assert.That(run.Stderr.Trim(), Is.EqualTo("error: -N 2 needs a Slurm allocation (SLURM_JOB_ID is not set); outside Slurm every rank runs on this machine"));
    }

    /// <summary>
    /// A batch job 42 of NODES nodes as mpi-run.sh sees it: stand-ins for srun (records each call: its arguments, the
    /// host file, COORDINATED_RELAUNCH and COORDINATED_REPLACED_NODES; then runs the script given for that call),
    /// scontrol (show job / hostnames / config, requeue) and sinfo, over a node table in a scratch directory.
    /// In a call's script, <c>lose NODE</c> marks NODE down (not responding) and removes it from the job; a file
    /// <c>$STATE/sinfo-fails</c> makes sinfo fail as with an unreachable controller.
    /// </summary>
    private sealed class FakeJob : IDisposable
    {
        private readonly TempDir _dir = new();
        private readonly int _nodes;

        internal FakeJob(int nodes)
        {
            _nodes = nodes;
            var names = Enumerable.Range(1, nodes).Select(k => $"node{k}").ToArray();
            File.WriteAllLines(this["nodes"], names.Select(n => $"{n}|alloc|none"));
            File.WriteAllText(this["joblist"], string.Join(',', names) + "\n");
            string s = _dir.Path;
            Stub("srun", $$"""
                STATE={{s}}
                n=$(( $(cat {{s}}/count 2>/dev/null || echo 0) + 1 )); echo "$n" > {{s}}/count
                { echo "srun $*"; echo "hostfile $(paste -sd, "${SLURM_HOSTFILE:-/dev/null}")"
                  echo "relaunch=${COORDINATED_RELAUNCH:-} replaced=${COORDINATED_REPLACED_NODES:-}"; } > {{s}}/call-$n
                lose() { sed -i "s/^$1|.*/$1|down*|Not responding/" {{s}}/nodes; sed -i "s/\b$1\b,\?//; s/,$//" {{s}}/joblist; }
                [ -f {{s}}/srun-$n.sh ] && . {{s}}/srun-$n.sh
                exit 0
                """);
            Stub("scontrol", $$"""
                case "$1 $2" in
                  "show job") echo "JobId=42 JobName=x JobState=RUNNING Reason=None Restarts=0 ReqNodeList=(null) NodeList=$(cat {{s}}/joblist) ExcNodeList=(null)" ;;
                  "show hostnames") tr ',' '\n' <<<"$3" ;;
                  "show config") echo "SlurmdTimeout           = 1 sec" ;;
                  requeue*) echo "$*" >> {{s}}/requeues ;;
                  *) echo "scontrol stand-in: unexpected $*" >&2; exit 1 ;;
                esac
                """);
            Stub("sinfo", $$"""
                [ ! -e {{s}}/sinfo-fails ] || { echo "sinfo: error: Unable to contact slurm controller" >&2; exit 1; }
                if [ -e {{s}}/sinfo-signal ]; then
                  signal=$(cat {{s}}/sinfo-signal); rm -f {{s}}/sinfo-signal
                  while [ ! -s {{s}}/launcher.pid ]; do sleep 0.02; done
                  kill -s "$signal" "$(cat {{s}}/launcher.pid)"
                fi
                list=""
                while [ $# -gt 0 ]; do case "$1" in -n) list="$2"; shift 2 ;; *) shift ;; esac; done
                for node in ${list//,/ }; do grep "^$node|" {{s}}/nodes; done
                """);
        }

        internal string this[string relative] => Path.Combine(_dir.Path, relative);

        internal string[] Calls => [.. Directory.GetFiles(_dir.Path, "call-*")];

        internal string[] Requeues => File.Exists(this["requeues"]) ? File.ReadAllLines(this["requeues"]) : [];

        internal string Call(int n) => File.ReadAllText(this[$"call-{n}"]);

        internal string Hostfile(int n) => Call(n).Split('\n').Single(l => l.StartsWith("hostfile ", StringComparison.Ordinal))["hostfile ".Length..];

        /// <summary>The first sinfo call sends <paramref name="signal"/> to mpi-run.sh (its pid: <see cref="Started"/>).</summary>
        internal void SignalOnFirstSinfo(string signal) => File.WriteAllText(this["sinfo-signal"], signal);

        /// <summary>Tells the stand-ins mpi-run.sh's pid.</summary>
        internal void Started(Job run) => File.WriteAllText(this["launcher.pid"], run.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture));

        /// <summary>What the <paramref name="n"/>-th srun does before it exits (bash; <c>lose NODE</c>, <c>exit CODE</c>).</summary>
        internal void OnSrun(int n, string script) => File.WriteAllText(this[$"srun-{n}.sh"], script + "\n");

        internal Job Launch(params string[] options) => LaunchWith([], options);

        /// <summary>mpi-run.sh OPTIONS Counter.dll in the batch shell of job 42 (no build check: a path to a dll).</summary>
        internal Job LaunchWith(Dictionary<string, string> env, params string[] options)
        {
            var all = new Dictionary<string, string>(env)
            {
                ["PATH"] = this["stubs"] + ":" + Environment.GetEnvironmentVariable("PATH"),
                ["TMPDIR"] = _dir.Path,
                ["SLURM_JOB_ID"] = "42",
                ["SLURM_JOB_NUM_NODES"] = _nodes.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["SLURM_JOB_NODELIST"] = File.ReadAllText(this["joblist"]).Trim(),
                ["SLURM_STEP_ID"] = "",
                ["SLURM_RESTART_COUNT"] = "",
                ["SLURM_NTASKS_PER_NODE"] = "",
            };
            return Job.Start(Path.Combine(Repo.Root, "mpi-run.sh"), [.. options, Repo.CounterDll, "--to", "1"], all);
        }

        public void Dispose() => _dir.Dispose();

        private void Stub(string name, string body) => StandIn.Write(this["stubs"], name, body);
    }
}

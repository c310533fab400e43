using System.Text.RegularExpressions;
using Coordinated.Checkpointing;
using Coordinated.Tests.Infrastructure;
using Coordinated.Tests.Runtime;

namespace Coordinated.Tests.MultiLevel;

/// <summary>
/// The local, partner and global levels (docs/MULTILEVEL.md) with real processes on one host: mpirun MPMD with
/// <c>COORDINATED_NODE</c> simulates three nodes (a: ranks 0-1, b: rank 2, c: rank 3), and <c>%N</c> gives each its
/// own local directory. Node b's partner copy is on c, c's on a, a's on b.
/// </summary>
[Category("MultiLevel")]
[NonParallelizable] // oversubscribed ranks
public sealed class MultiLevelTests
{
    private static readonly (string Node, int Ranks)[] s_threeNodes = [("a", 2), ("b", 1), ("c", 1)];

    // NBody: checkpoints every 4 steps, every 3rd global: 4 L, 8 L, 12 G, 16 L, 20 L, 24 G ...; the run is killed after
    // the local commit of step 20, whose newest global snapshot is step 12.
    private const long Steps = 40;
    private const long KilledAt = 20;
    private TempDir _shared = null!;
    private string _reference = "";

    private static string[] NBodyArgs(TempDir dir, params string[] more) =>
        ["--particles", "64", "--steps", Steps.ToString(), "--report-every", "0", "--checkpoint-every-steps", "4",
         "--checkpoint-dir", dir["ckpt"], "--checkpoint-local-dir", dir["local/%N"], "--global-every", "3", .. more];

    private static string[] CounterArgs(TempDir dir, long to, params string[] more) =>
        ["--to", to.ToString(), "--step-seconds", "0", "--counters", "10", "--report-every", "0", "--checkpoint-every-steps", "2",
         "--checkpoint-dir", dir["ckpt"], "--global-every", "3", .. more];

    [OneTimeSetUp]
    public void UninterruptedReference()
    {
        _shared = new TempDir();
        _reference = _shared["ref.h5"];
        using var job = Job.Mpi(4, Repo.NBodyDll, ["--particles", "64", "--steps", Steps.ToString(), "--report-every", "0", "--checkpoint-dir", _shared["ref-ckpt"], "--output", _reference]);
        job.ExpectExit(0);
    }

    [OneTimeTearDown]
    public void RemoveReference() => _shared.Dispose();

    [Test]
    public void Every_node_keeps_its_own_part_and_its_partners_and_every_third_checkpoint_and_the_final_one_are_global()
    {
        using var dir = new TempDir();
        using var job = Job.MpiNodes(s_threeNodes, Repo.CounterDll, CounterArgs(dir, 13, "--keep", "10", "--checkpoint-local-dir", dir["local/%N"]));
        job.ExpectExit(0);

        Assert.That(Directory.GetFiles(dir["ckpt"], "ckpt-*.h5").Select(Path.GetFileName).Order(),
            Is.EqualTo(new[] { "ckpt-000000006.h5", "ckpt-000000012.h5", "ckpt-000000013.h5" }), "checkpoints 3 and 6 (steps 6, 12) and the final one are global");
        var expected = new Dictionary<string, string[]>
        {
            ["a"] = ["counter-000000012-ranks-0-1-of-4.own.lckpt", "counter-000000012-ranks-3-of-4.partner.lckpt"],
            ["b"] = ["counter-000000012-ranks-0-1-of-4.partner.lckpt", "counter-000000012-ranks-2-of-4.own.lckpt"],
            ["c"] = ["counter-000000012-ranks-2-of-4.partner.lckpt", "counter-000000012-ranks-3-of-4.own.lckpt"],
        };
        foreach (var (node, names) in expected)
        {
            string[] files = [.. Directory.GetFiles(dir[$"local/{node}"]).Select(Path.GetFileName).Order()!];
            Assert.That(files, Is.SupersetOf(names), $"node {node}: its own part and its partner's copy");
            Assert.That(files, Has.Length.EqualTo(12), $"node {node}: steps 2 to 12, two files each (--keep 10 keeps them all)");
        }

        var events = MetricsLog.Read(dir["ckpt/metrics.jsonl"]).OfType<CheckpointEvent>().ToList();
        Assert.That(events.Select(e => $"{e.Step} {e.Level}"), Is.EqualTo(new[]
        {
            "2 local+partner", "4 local+partner", "6 local+partner", "6 global", "8 local+partner", "10 local+partner",
            "12 local+partner", "12 global", "13 global",
        }));
        Assert.That(job.Stdout, Does.Contain("checkpoint of step 2 (every-steps) committed (local+partner) in"));
        Assert.That(File.ReadAllText(dir["ckpt/metrics.jsonl"]), Does.Contain("\"level\":\"local+partner\""), "readable in the file as written");
    }

    /// <summary>Kills the run (kill -9) right after the local commit of step 20, then changes the node-local directories as a failure would.</summary>
    private static void RunUntilKilledAfterLocalCommit(TempDir dir)
    {
        var env = new Dictionary<string, string> { ["COORDINATED_FAULT_PAUSE"] = "local-committed", ["COORDINATED_FAULT_STEP"] = KilledAt.ToString() };
        using var job = Job.MpiNodes(s_threeNodes, Repo.NBodyDll, NBodyArgs(dir), env);
        job.WaitForLine($@"paused at local-committed on rank 0, step {KilledAt}\b");
        job.KillNine();
        job.WaitForExit();
        Assert.That(Directory.GetFiles(dir["ckpt"], "ckpt-*.h5").Select(Path.GetFileName), Is.EqualTo(new[] { "ckpt-000000012.h5" }),
            "the newest global snapshot is step 12");
    }

    [TestCase("nothing lost", "local", KilledAt, TestName = "Killed_run_resumes_from_the_local_level_bitwise")]
    [TestCase("node b lost", "partner", KilledAt, TestName = "Lost_node_is_rebuilt_from_its_partner_copy_bitwise")]
    [TestCase("node b replaced by a spare", "partner", KilledAt, TestName = "A_spare_that_replaced_a_lost_node_is_filled_from_the_partner_copy_bitwise")]
    [TestCase("nodes b and c lost", "global", 12L, TestName = "Two_neighbouring_nodes_lost_fall_back_to_the_global_level_bitwise")]
    [TestCase("node a's file corrupt", "partner", KilledAt, TestName = "Corrupt_local_file_is_reported_and_its_partner_copy_used_bitwise")]
    public void Resume_after_kill(string failure, string level, long step)
    {
        using var dir = new TempDir();
        RunUntilKilledAfterLocalCommit(dir);
        string corrupt = dir[$"local/a/nbody-{KilledAt:D9}-ranks-0-1-of-4.own.lckpt"];
        switch (failure)
        {
            case "node b lost":
                Directory.Delete(dir["local/b"], recursive: true);
                break;
            case "nodes b and c lost":
                Directory.Delete(dir["local/b"], recursive: true);
                Directory.Delete(dir["local/c"], recursive: true);
                break;
            case "node a's file corrupt":
                using (var stream = new FileStream(corrupt, FileMode.Open, FileAccess.ReadWrite))
                {
                    stream.Seek(-100, SeekOrigin.End); // inside rank 1's velocities
                    int b = stream.ReadByte();
                    stream.Seek(-1, SeekOrigin.Current);
                    stream.WriteByte((byte)(b ^ 0x40));
                }

                break;
        }

        // With a spare, rank 2 runs on a new node whose local directory is empty; node b is gone (its directory stays unread).
        (string Node, int Ranks)[] nodes = failure == "node b replaced by a spare" ? [("a", 2), ("spare", 1), ("c", 1)] : s_threeNodes;
        using var resume = Job.MpiNodes(nodes, Repo.NBodyDll, NBodyArgs(dir, "--output", dir["out.h5"]));
        resume.ExpectExit(0);
        var lines = Regex.Matches(resume.Stdout, @"^\[coordinated\] restart level: (\w+) step (\d+): (.*)$", RegexOptions.Multiline);
        Assert.That(lines, Has.Count.EqualTo(1), resume.Stdout);
        Assert.That((lines[0].Groups[1].Value, long.Parse(lines[0].Groups[2].Value)), Is.EqualTo((level, step)), lines[0].Value);
        string why = lines[0].Groups[3].Value;
        switch (failure)
        {
            case "node b lost":
                Assert.That(why, Does.Contain("node b has no verified copy of rank 2").And.Contain("rebuilt from node c's partner copy"));
                Assert.That(resume.Stdout, Does.Not.Contain("from ckpt-"), "no global snapshot is read");
                break;
            case "node b replaced by a spare":
                Assert.That(why, Does.Contain("node spare has no verified copy of rank 2").And.Contain("rebuilt from node c's partner copy"));
                Assert.That(Directory.GetFiles(dir["local/spare"], "nbody-*-ranks-2-of-4.own.lckpt"), Is.Not.Empty, "the spare keeps rank 2's part from then on");
                break;
            case "nodes b and c lost":
                Assert.That(why, Does.Contain("rank 2 missing on every node").And.Contain("node b and its partner node c lost"));
                break;
            case "node a's file corrupt":
                Assert.That(resume.Stderr, Does.Contain($"local file {corrupt} on node a: checksum mismatch").And.Contain("taken from node b's copy"));
                Assert.That(why, Does.Contain("node a has no verified copy of ranks 0-1").And.Contain("node b's partner copy"));
                break;
            default:
                Assert.That(why, Does.Contain("every rank's part found on the node that runs it"));
                break;
        }

        var restart = MetricsLog.Read(dir["ckpt/metrics.jsonl"]).OfType<RestartEvent>().Single();
        Assert.That((restart.Level, restart.Step), Is.EqualTo((level, step)));
        foreach (string name in (string[])["/state/pos", "/state/vel", "/state/mass"])
        {
            Assert.That(H5Py.DatasetBytes(dir["out.h5"], name), Is.EqualTo(H5Py.DatasetBytes(_reference, name)), $"{name} differs from the uninterrupted run");
        }
    }

    [TestCase("MD", new[] { "--cells", "4", "--steps", "24", "--report-every", "0" }, new[] { "/state/pos", "/state/vel", "/state/pos_ref", "/state/id" })]
    [TestCase("Stencil", new[] { "--size", "12", "--steps", "24" }, new[] { "/state/u", "/state/hot", "/state/updates", "/state/range", "/state/rng" })]
    public void Row_sets_blocks_and_per_rank_state_are_rebuilt_from_a_partner_copy_bitwise(string app, string[] appArgs, string[] datasets)
    {
        // MD: variable-size rows (RegisterRows); Stencil: N-d blocks with halos (RegisterBlock) and per-rank RNG state (RegisterRankState).
        using var dir = new TempDir();
        string dll = Repo.AppDll(app);
        using (var reference = Job.Mpi(4, dll, [.. appArgs, "--checkpoint-dir", dir["ref-ckpt"], "--output", dir["ref.h5"]]))
        {
            reference.ExpectExit(0);
        }

        string[] args = [.. appArgs, "--checkpoint-every-steps", "4", "--checkpoint-dir", dir["ckpt"], "--checkpoint-local-dir", dir["local/%N"], "--global-every", "3"];
        var env = new Dictionary<string, string> { ["COORDINATED_FAULT_PAUSE"] = "local-committed", ["COORDINATED_FAULT_STEP"] = "16" };
        using (var job = Job.MpiNodes(s_threeNodes, dll, args, env))
        {
            job.WaitForLine(@"paused at local-committed on rank 0, step 16\b");
            job.KillNine();
            job.WaitForExit();
        }

        Directory.Delete(dir["local/b"], recursive: true);
        using var resume = Job.MpiNodes(s_threeNodes, dll, [.. args, "--output", dir["out.h5"]]);
        resume.ExpectExit(0);
        Assert.That(resume.Stdout, Does.Contain("restart level: partner step 16: node b has no verified copy of rank 2"));
        foreach (string name in datasets)
        {
            Assert.That(H5Py.DatasetBytes(dir["out.h5"], name), Is.EqualTo(H5Py.DatasetBytes(dir["ref.h5"], name)), $"{app} {name} differs from the uninterrupted run");
        }
    }

    [Test]
    public void One_node_keeps_local_copies_only_says_so_once_and_resumes_from_them()
    {
        using var dir = new TempDir();
        using (var first = Job.MpiNodes([("solo", 2)], Repo.CounterDll, CounterArgs(dir, 5, "--checkpoint-local-dir", dir["local/%N"])))
        {
            first.ExpectExit(0);
            Assert.That(Regex.Matches(first.Stderr, "there is no partner node"), Has.Count.EqualTo(1), first.Stderr);
        }

        Assert.That(Directory.GetFiles(dir["local/solo"]).Select(Path.GetFileName).Order(),
            Is.EqualTo(new[] { "counter-000000002-ranks-0-1-of-2.own.lckpt", "counter-000000004-ranks-0-1-of-2.own.lckpt" }), "no partner copies");
        File.Delete(dir["ckpt/ckpt-000000005.h5"]); // the final global snapshot: the newest complete checkpoint is now local step 4
        using var resume = Job.MpiNodes([("solo", 2)], Repo.CounterDll, CounterArgs(dir, 7, "--checkpoint-local-dir", dir["local/%N"], "--no-partner", "--output", dir["out.h5"]));
        resume.ExpectExit(0);
        Assert.That(resume.Stderr, Does.Not.Contain("no partner node"), "--no-partner: intended, no warning");
        Assert.That(resume.Stdout, Does.Contain("restart level: local step 4: every rank's part found on the node that runs it (solo)"));
        Assert.That(MetricsLog.Read(dir["ckpt/metrics.jsonl"]).OfType<CheckpointEvent>().Where(e => e.Step == 6).Select(e => e.Level), Is.EqualTo(new[] { "local" }));
        Assert.That(CounterTests.Counts(dir["out.h5"]), Is.EqualTo(Enumerable.Repeat(7L, 10)));
    }

    [Test]
    public void Retention_keeps_a_superseded_local_file_for_reuse_and_a_file_rewritten_in_place_restores_bitwise()
    {
        using var dir = new TempDir();
        using (var first = Job.MpiNodes([("solo", 2)], Repo.CounterDll, CounterArgs(dir, 11, "--keep", "1", "--no-partner", "--checkpoint-local-dir", dir["local/%N"])))
        {
            first.ExpectExit(0);
        }

        string[] files = [.. Directory.GetFiles(dir["local/solo"]).Select(Path.GetFileName).Order(StringComparer.Ordinal)!];
        Assert.That(files, Has.Length.EqualTo(2), string.Join(", ", files));
        Assert.That(files[0], Is.EqualTo(".counter-recycle-0.lckpt.tmp"), "the superseded file waits in its recycle slot, under a name no level reads");
        Assert.That(files[1], Does.Match(@"^counter-0+\d+-ranks-0-1-of-2\.own\.lckpt$"), "--keep 1: only the newest local checkpoint");
        long localStep = long.Parse(files[1].Split('-')[1]);

        foreach (string global in Directory.GetFiles(dir["ckpt"], "ckpt-*.h5"))
        {
            File.Delete(global); // the newest complete checkpoint is now the local one, written over a recycled file
        }

        using var resume = Job.MpiNodes([("solo", 2)], Repo.CounterDll, CounterArgs(dir, 13, "--keep", "1", "--no-partner", "--checkpoint-local-dir", dir["local/%N"], "--output", dir["out.h5"]));
        resume.ExpectExit(0);
        Assert.That(resume.Stdout, Does.Contain($"restart level: local step {localStep}: "));
        Assert.That(CounterTests.Counts(dir["out.h5"]), Is.EqualTo(Enumerable.Repeat(13L, 10)));
    }

    [Test]
    public void On_tmpfs_the_local_level_does_not_fsync()
    {
        Assume.That(Directory.Exists("/dev/shm"), "needs /dev/shm (tmpfs)");
        using var dir = new TempDir();
        string shm = $"/dev/shm/coordinated-test-{Guid.NewGuid():N}";
        try
        {
            using var job = Job.MpiNodes([("a", 1), ("b", 1)], Repo.CounterDll, CounterArgs(dir, 4, "--checkpoint-local-dir", shm + "/%N"));
            job.ExpectExit(0);
            Assert.That(job.Stdout, Does.Contain("(tmpfs: no fsync)"));
            var local = MetricsLog.Read(dir["ckpt/metrics.jsonl"]).OfType<CheckpointEvent>().Where(e => e.Level == "local+partner").ToList();
            Assert.That(local.Select(e => e.Step), Is.EqualTo(new[] { 2L, 4L }));
            Assert.That(local.Select(e => e.FlushSeconds), Is.All.Zero, "no fsync on tmpfs");
            Assert.That(Directory.GetFiles(shm + "/b").Select(Path.GetFileName).Order(), Is.EqualTo(new[]
            {
                "counter-000000002-ranks-0-of-2.partner.lckpt", "counter-000000002-ranks-1-of-2.own.lckpt",
                "counter-000000004-ranks-0-of-2.partner.lckpt", "counter-000000004-ranks-1-of-2.own.lckpt",
            }));
        }
        finally
        {
            if (Directory.Exists(shm))
            {
                Directory.Delete(shm, recursive: true);
            }
        }
    }

    [Test]
    public void Another_rank_count_restarts_from_the_global_level_and_says_why()
    {
        using var dir = new TempDir();
        using (var first = Job.MpiNodes(s_threeNodes, Repo.CounterDll, CounterArgs(dir, 8, "--checkpoint-local-dir", dir["local/%N"])))
        {
            first.ExpectExit(0);
        }

        using var resume = Job.MpiNodes([("a", 1), ("b", 1)], Repo.CounterDll, CounterArgs(dir, 10, "--checkpoint-local-dir", dir["local/%N"], "--output", dir["out.h5"]));
        resume.ExpectExit(0);
        Assert.That(resume.Stdout, Does.Match(@"restart level: global step 8: the local level is not usable: written by 4 ranks, this run has 2"));
        Assert.That(CounterTests.Counts(dir["out.h5"]), Is.EqualTo(Enumerable.Repeat(10L, 10)));
    }

    [Test]
    public void An_unusable_local_directory_gives_one_warning_and_the_run_goes_on_with_global_checkpoints()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["a-file"], "");
        string local = dir["a-file/%N"]; // below a regular file: cannot be created
        using var job = Job.MpiNodes(s_threeNodes, Repo.CounterDll, CounterArgs(dir, 8, "--checkpoint-local-dir", local, "--output", dir["out.h5"]));
        job.ExpectExit(0);
        var warnings = Regex.Matches(job.Stderr, "warning: --checkpoint-local-dir: cannot use");
        Assert.That(warnings, Has.Count.EqualTo(1), job.Stderr);
        Assert.That(job.Stderr, Does.Contain(dir["a-file/a"]).And.Contain("global checkpoints only"));
        var events = MetricsLog.Read(dir["ckpt/metrics.jsonl"]).OfType<CheckpointEvent>().ToList();
        Assert.That(events.Select(e => $"{e.Step} {e.Level}"), Is.EqualTo(new[] { "2 global", "4 global", "6 global", "8 global" }), "every checkpoint global");
        Assert.That(CounterTests.Counts(dir["out.h5"]), Is.EqualTo(Enumerable.Repeat(8L, 10)));
    }

    [Test]
    public void A_full_local_directory_gives_one_warning_and_that_checkpoint_and_the_rest_go_global()
    {
        using var dir = new TempDir();
        var env = new Dictionary<string, string> { ["COORDINATED_FAULT_FAIL"] = "local-full", ["COORDINATED_FAULT_STEP"] = "4", ["COORDINATED_FAULT_RANK"] = "2" };
        using var job = Job.MpiNodes(s_threeNodes, Repo.CounterDll, CounterArgs(dir, 10, "--keep", "1", "--checkpoint-local-dir", dir["local/%N"], "--output", dir["out.h5"]), env);
        job.ExpectExit(0);
        var warnings = Regex.Matches(job.Stderr, "warning: the local checkpoint of step 4 failed");
        Assert.That(warnings, Has.Count.EqualTo(1), job.Stderr);
        Assert.That(job.Stderr, Does.Contain($"in {dir["local/b"]} on node b: No space left on device"));
        var events = MetricsLog.Read(dir["ckpt/metrics.jsonl"]).ToList();
        Assert.That(events.OfType<CheckpointFailedEvent>().Select(e => $"{e.Step} {e.Level}"), Is.EqualTo(new[] { "4 local+partner" }));
        Assert.That(events.OfType<CheckpointEvent>().Select(e => $"{e.Step} {e.Level}"), Is.EqualTo(new[] { "2 local+partner", "4 global", "6 global", "8 global", "10 global" }));
        Assert.That(Directory.GetFiles(dir["local/a"], "*-000000004-*"), Is.Empty, "the failed step's files are removed everywhere");
        Assert.That(Directory.GetFiles(dir["local/a"]).Select(Path.GetFileName).Order(),
            Is.EqualTo(new[] { "counter-000000002-ranks-0-1-of-4.own.lckpt", "counter-000000002-ranks-3-of-4.partner.lckpt" }),
            "--keep 1: the newest committed local checkpoint stays, no newer one of that level was committed");
        Assert.That(CounterTests.Counts(dir["out.h5"]), Is.EqualTo(Enumerable.Repeat(10L, 10)));
    }

    [Test]
    public void With_async_the_global_level_drains_from_the_staged_copy_and_a_drain_at_exit_is_waited_for()
    {
        // The I/O threads are held inside the global write of step 6 (the 3rd checkpoint); the app reaches its end meanwhile.
        using var dir = new TempDir();
        var hold = new FaultHold(dir, "state-written", step: 6);
        using var job = Job.MpiNodes(s_threeNodes, Repo.CounterDll,
            ["--to", "6", "--step-seconds", "0", "--counters", "100000", "--report-every", "0", "--checkpoint-every-steps", "2", "--checkpoint-async",
             "--checkpoint-dir", dir["ckpt"], "--checkpoint-local-dir", dir["local/%N"], "--global-every", "3"], hold.Environment);
        hold.WaitUntilHeld(job, 0, 1, 2, 3);
        job.WaitForLine("global drain of step 6 still running at exit; waiting for it to commit");
        Assert.That(File.Exists(dir["ckpt/ckpt-000000006.h5"]), Is.False, "held: not committed yet");
        Assert.That(File.Exists(dir["local/a/counter-000000006-ranks-0-1-of-4.own.lckpt"]), Is.True, "the local level of step 6 is committed before the drain");
        hold.Release();
        job.ExpectExit(0);
        Assert.That(job.Stdout, Does.Match(@"checkpoint step 6 \(every-steps\), async: staged in"));
        Assert.That(CounterTests.Counts(dir["ckpt/ckpt-000000006.h5"]), Is.EqualTo(Enumerable.Repeat(6L, 100000)));
        var levels = MetricsLog.Read(dir["ckpt/metrics.jsonl"]).OfType<CheckpointEvent>().Select(e => $"{e.Step} {e.Level}");
        Assert.That(levels, Is.EqualTo(new[] { "2 local+partner", "4 local+partner", "6 local+partner", "6 global" }), "the final step was already global: no second write");
    }
}

using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Coordinated.Study;
using Coordinated.Tests.Infrastructure;
using static Coordinated.Tests.Infrastructure.CounterCommandLine;

namespace Coordinated.Tests.Runtime;

/// <summary>The runtime end to end through the Counter app, with real ranks under mpirun.</summary>
[NonParallelizable] // ranks oversubscribe the machine's cores; in parallel the timings of several jobs would interfere
public class CounterTests
{
    internal static long[] Counts(string file) => MemoryMarshal.Cast<byte, long>(H5Py.DatasetBytes(file, "/state/count")).ToArray();

    [TestCase(1)]
    [TestCase(4)]
    public void Uninterrupted_run_counts_exactly(int ranks)
    {
        using var dir = new TempDir();
        using var job = Job.Mpi(ranks, Repo.CounterDll, Args(dir, 25, 0, "--counters", "10", "--checkpoint-every-steps", "10", "--output", dir["out.h5"]));
        job.ExpectExit(0);
        Assert.That(Counts(dir["out.h5"]), Is.EqualTo(Enumerable.Repeat(25L, 10)));
        Assert.That(Directory.GetFiles(dir["ckpt"], "ckpt-*.h5").Select(Path.GetFileName), Is.EquivalentTo(new[] { "ckpt-000000020.h5", "ckpt-000000025.h5" }), "keep 2: the last periodic and the final snapshot");
    }

    [Test]
    public void Signal_to_one_rank_gives_one_agreed_snapshot_and_exit_75_then_exact_resume()
    {
        using var dir = new TempDir();
        using (var job = Job.Mpi(4, Repo.CounterDll, Args(dir, 400, 0.02)))
        {
            job.WaitForLine(@"^counter: step 5/");
            var pids = job.WaitForRanks(4);
            Job.Signal(pids[2], "TERM");
            job.ExpectExit(75);
            Assert.That(job.Stdout, Does.Match(@"checkpoint step \d+ \(signal\)"));
        }

        var snapshots = Directory.GetFiles(dir["ckpt"], "ckpt-*.h5");
        Assert.That(snapshots, Has.Length.EqualTo(1), "exactly one committed snapshot");
        long step = H5Py.Attributes(snapshots[0]).GetProperty("step").GetInt64();
        Assert.That(CounterTests.Counts(snapshots[0]), Is.EqualTo(Enumerable.Repeat(step, 12)), "every rank saved the same step");
        Assert.That(H5Py.Attributes(snapshots[0]).GetProperty("trigger").GetString(), Is.EqualTo("signal"));

        using var resume = Job.Mpi(2, Repo.CounterDll, Args(dir, step + 5, 0, "--output", dir["out.h5"]));
        resume.ExpectExit(0);
        Assert.That(resume.Stdout, Does.Contain($"resumed from step {step} (restart 1)"));
        Assert.That(Counts(dir["out.h5"]), Is.EqualTo(Enumerable.Repeat(step + 5, 12)));
    }

    [Test]
    public void Signals_to_every_rank_and_a_second_signal_still_give_one_consistent_snapshot()
    {
        using var dir = new TempDir();
        using var job = Job.Mpi(3, Repo.CounterDll, Args(dir, 400, 0.02));
        job.WaitForLine(@"^counter: step 3/");
        var pids = job.WaitForRanks(3);
        foreach (int pid in pids.Values)
        {
            Job.Signal(pid, "USR1");
        }

        Job.Signal(pids[0], "INT");
        job.ExpectExit(75);
        var snapshots = Directory.GetFiles(dir["ckpt"], "ckpt-*.h5");
        Assert.That(snapshots, Has.Length.EqualTo(1));
        long step = H5Py.Attributes(snapshots[0]).GetProperty("step").GetInt64();
        Assert.That(Counts(snapshots[0]), Is.EqualTo(Enumerable.Repeat(step, 12)));
    }

    [Test]
    public void Restart_on_fewer_ranks_repartitions_3_to_2()
    {
        using var dir = new TempDir();
        using (var first = Job.Mpi(3, Repo.CounterDll, Args(dir, 8, 0, "--counters", "7", "--checkpoint-every-steps", "4")))
        {
            first.ExpectExit(0);
        }

        Assert.That(H5Py.Attributes(dir["ckpt/ckpt-000000008.h5"]).GetProperty("ranks").GetInt64(), Is.EqualTo(3));
        using var second = Job.Mpi(2, Repo.CounterDll, Args(dir, 11, 0, "--counters", "7", "--output", dir["out.h5"]));
        second.ExpectExit(0);
        Assert.That(second.Stdout, Does.Contain("resumed from step 8 (restart 1)"));
        Assert.That(Counts(dir["out.h5"]), Is.EqualTo(Enumerable.Repeat(11L, 7)));
    }

    [TestCase("created")]
    [TestCase("state-written")]
    [TestCase("closed")]
    [TestCase("flushed")]
    public void Kill_9_of_all_ranks_mid_checkpoint_leaves_the_previous_snapshot_valid(string point)
    {
        using var dir = new TempDir();
        var env = new Dictionary<string, string> { ["COORDINATED_FAULT_PAUSE"] = point, ["COORDINATED_FAULT_STEP"] = "6" };
        using (var job = Job.Mpi(4, Repo.CounterDll, Args(dir, 100, 0, "--checkpoint-every-steps", "3"), env))
        {
            job.WaitForLine($@"\[coordinated-fault\] paused at {point}");
            Assert.That(File.Exists(dir["ckpt/.ckpt-000000006.h5.partial"]), Is.True, "the kill lands while the temporary file is being written");
            job.KillNine();
        }

        Assert.That(Directory.GetFiles(dir["ckpt"], "ckpt-*.h5").Select(Path.GetFileName), Is.EqualTo(new[] { "ckpt-000000003.h5" }));
        using var resume = Job.Mpi(2, Repo.CounterDll, Args(dir, 10, 0, "--output", dir["out.h5"]));
        resume.ExpectExit(0);
        Assert.That(resume.Stdout, Does.Contain("removed .ckpt-000000006.h5.partial"));
        Assert.That(resume.Stdout, Does.Contain("resumed from step 3"));
        Assert.That(Counts(dir["out.h5"]), Is.EqualTo(Enumerable.Repeat(10L, 12)));
    }

    [TestCase("renamed", 6)]
    [TestCase("latest-written", 6)]
    public void Kill_9_after_the_commit_point_leaves_the_new_snapshot_valid(string point, long expected)
    {
        using var dir = new TempDir();
        var env = new Dictionary<string, string> { ["COORDINATED_FAULT_PAUSE"] = point, ["COORDINATED_FAULT_STEP"] = "6" };
        using (var job = Job.Mpi(2, Repo.CounterDll, Args(dir, 100, 0, "--checkpoint-every-steps", "3"), env))
        {
            job.WaitForLine($@"\[coordinated-fault\] paused at {point}");
            job.KillNine();
        }

        using var resume = Job.Mpi(3, Repo.CounterDll, Args(dir, 10, 0, "--output", dir["out.h5"]));
        resume.ExpectExit(0);
        Assert.That(resume.Stdout, Does.Contain($"resumed from step {expected}"));
        Assert.That(Counts(dir["out.h5"]), Is.EqualTo(Enumerable.Repeat(10L, 12)));
    }

    [Test]
    public void Corrupted_data_in_the_newest_snapshot_is_reported_and_the_previous_one_used()
    {
        using var dir = new TempDir();
        using (var job = Job.Mpi(2, Repo.CounterDll, Args(dir, 10, 0, "--checkpoint-every-steps", "5")))
        {
            job.ExpectExit(0);
        }

        string newest = dir["ckpt/ckpt-000000010.h5"];
        long offset = H5Py.DatasetOffset(newest, "/state/count");
        using (var stream = new FileStream(newest, FileMode.Open, FileAccess.ReadWrite))
        {
            stream.Position = offset + (8 * 9); // counter 9, owned by rank 1
            stream.WriteByte(0x7F);
        }

        using var resume = Job.Mpi(3, Repo.CounterDll, Args(dir, 12, 0, "--output", dir["out.h5"]));
        resume.ExpectExit(0);
        Assert.That(resume.Stderr, Does.Contain("skipping ckpt-000000010.h5").And.Contain("checksum mismatch in /state/count"));
        Assert.That(resume.Stdout, Does.Contain("resumed from step 5"));
        Assert.That(Counts(dir["out.h5"]), Is.EqualTo(Enumerable.Repeat(12L, 12)));
    }

    [Test]
    public void Snapshot_of_another_size_is_refused_with_exit_65_and_no_file_changes()
    {
        using var dir = new TempDir();
        using (var job = Job.Mpi(2, Repo.CounterDll, Args(dir, 4, 0, "--counters", "6", "--checkpoint-every-steps", "2")))
        {
            job.ExpectExit(0);
        }

        string before = DirectoryHash(dir["ckpt"]);
        using var other = Job.Mpi(2, Repo.CounterDll, Args(dir, 4, 0, "--counters", "8"));
        other.ExpectExit(65);
        Assert.That(other.Stderr, Does.Contain("the snapshot has counters = 6, this run has counters = 8").And.Contain("--fresh"));
        Assert.That(DirectoryHash(dir["ckpt"]), Is.EqualTo(before));
    }

    [Test]
    public void H5py_reads_a_snapshot_with_all_attributes_and_values()
    {
        using var dir = new TempDir();
        using (var job = Job.Mpi(3, Repo.CounterDll, Args(dir, 6, 0, "--counters", "5", "--checkpoint-every-steps", "6")))
        {
            job.ExpectExit(0);
        }

        string file = dir["ckpt/ckpt-000000006.h5"];
        var attrs = H5Py.Attributes(file);
        Assert.That(attrs.GetProperty("format").GetString(), Is.EqualTo("coordinated-checkpoint"));
        Assert.That(attrs.GetProperty("format_version").GetInt64(), Is.EqualTo(1));
        Assert.That(attrs.GetProperty("app").GetString(), Is.EqualTo("counter"));
        Assert.That(attrs.GetProperty("step").GetInt64(), Is.EqualTo(6));
        Assert.That(attrs.GetProperty("ranks").GetInt64(), Is.EqualTo(3));
        Assert.That(attrs.GetProperty("trigger").GetString(), Is.EqualTo("every-steps"));
        Assert.That(DateTime.Parse(attrs.GetProperty("created_utc").GetString()!, System.Globalization.CultureInfo.InvariantCulture), Is.EqualTo(DateTime.UtcNow).Within(TimeSpan.FromMinutes(10)));
        Assert.That(Counts(file), Is.EqualTo(Enumerable.Repeat(6L, 5)));
        Assert.That(H5Py.Run(file, "print(h5py.File(path,'r')['params'].attrs['counters'])").Trim(), Is.EqualTo("5"));
        // The checksum rows tile the dataset and match crc32c of the bytes h5py reads.
        string check = H5Py.Run(file, """
            f = h5py.File(path, 'r')
            data = f['state/count'][()].astype('<i8').tobytes()
            rows = f['checksums/count'][()]
            print(sum(int(r[1]) for r in rows), sorted(int(r[0]) for r in rows))
            """);
        Assert.That(check.Trim(), Is.EqualTo("5 [0, 2, 4]"));
    }

    [Test]
    public void Second_run_on_the_same_directory_is_refused_naming_the_first()
    {
        using var dir = new TempDir();
        using var first = Job.Mpi(2, Repo.CounterDll, Args(dir, 1000, 0.05));
        first.WaitForLine(@"^counter: step 1/");
        using var second = Job.Mpi(1, Repo.CounterDll, Args(dir, 10, 0));
        second.ExpectExit(73);
        Assert.That(second.Stderr, Does.Contain("is in use by another run: counter pid"));
        Job.Signal(first.WaitForRanks(2)[0], "TERM");
        first.ExpectExit(75);
    }

    [Test]
    public void Unwritable_checkpoint_directory_is_an_error_before_any_step()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["not-a-dir"], "x");
        using var job = Job.Mpi(2, Repo.CounterDll, ["--to", "10", "--step-seconds", "0", "--report-every", "1", "--checkpoint-dir", dir["not-a-dir/sub"]]);
        job.ExpectExit(73);
        Assert.That(job.Stderr, Does.Contain("cannot create checkpoint directory"));
        Assert.That(job.Stdout, Does.Not.Contain("counter: step"));
    }

    [Test]
    public void Auto_interval_uses_the_measured_cost_and_says_why()
    {
        using var dir = new TempDir();
        using var job = Job.Mpi(2, Repo.CounterDll, Args(dir, 60, 0.05, "--checkpoint-interval", "auto", "--mtbf", "2"));
        job.ExpectExit(0);
        Assert.That(job.Stdout, Does.Match(@"checkpoint step \d+ \(auto-interval\)"));
        // At start-up it says which interval it starts with and that the cost is a guess until measured.
        Assert.That(job.Stdout, Does.Contain(
            "auto interval: Daly's interval for checkpoint cost C = 1.000 s (initial guess, nothing measured yet) and MTBF M = 2 s is 1.4 s (Young's sqrt(2CM) = 2.0 s); first checkpoint in 1.4 s"));
        // After the first checkpoint the initial 1 s guess is replaced by the measured cost, and the interval shrinks.
        var explained = System.Text.RegularExpressions.Regex.Matches(job.Stdout, @"auto interval: Daly's interval for checkpoint cost C = ([\d.]+) s \(mean of last \d measured\) and MTBF M = 2 s is ([\d.]+) s");
        Assert.That(explained, Is.Not.Empty);
        double cost = double.Parse(explained[0].Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        double interval = double.Parse(explained[0].Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(cost, Is.LessThan(1.0));
        Assert.That(interval, Is.EqualTo(Coordinated.Checkpointing.OptimalInterval.Daly(cost, 2)).Within(0.06));
        var metrics = File.ReadAllLines(dir["ckpt/metrics.jsonl"]).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToList();
        Assert.That(metrics.Where(m => m.GetProperty("trigger").GetString() == "auto-interval").Count(), Is.GreaterThanOrEqualTo(2));
    }

    [Test]
    public void Request_files_checkpoint_and_stop_on_demand()
    {
        using var dir = new TempDir();
        using var job = Job.Mpi(2, Repo.CounterDll, Args(dir, 10_000, 0.01));
        job.WaitForLine(@"^counter: step 3/");
        File.WriteAllText(dir["ckpt/checkpoint-now"], "");
        job.WaitForLine(@"checkpoint step \d+ \(request\)");
        Assert.That(File.Exists(dir["ckpt/checkpoint-now"]), Is.False, "the request is consumed");
        File.WriteAllText(dir["ckpt/stop-now"], "");
        job.ExpectExit(75);
        Assert.That(job.Stdout, Does.Contain("'stop-now' request file"));
    }

    [Test]
    public void Max_runtime_stops_with_a_checkpoint_and_75()
    {
        using var dir = new TempDir();
        using var job = Job.Mpi(2, Repo.CounterDll, Args(dir, 10_000, 0.01, "--max-runtime", "1.5s"));
        job.ExpectExit(75);
        Assert.That(job.Stdout, Does.Match(@"checkpoint step \d+ \(max-runtime\)").And.Contain("--max-runtime reached"));
    }

    [Test]
    public void An_unexpected_exception_on_one_rank_aborts_every_rank_with_a_rank_tagged_message()
    {
        using var dir = new TempDir();
        var env = new Dictionary<string, string> { ["COORDINATED_FAULT_FAIL"] = "step-boundary", ["COORDINATED_FAULT_RANK"] = "1", ["COORDINATED_FAULT_STEP"] = "3" };
        using var job = Job.Mpi(3, Repo.CounterDll, Args(dir, 1000, 0.01), env);
        int code = job.WaitForExit(TimeSpan.FromSeconds(60));
        Assert.That(code, Is.Not.Zero);
        Assert.That(job.Stderr, Does.Contain("[rank 1 of 3").And.Contain("fatal: System.IO.IOException: injected failure at step-boundary").And.Contain("aborting all ranks"));
        Assert.That(ProcessTable.Descendants(job.Pid), Is.Empty);
    }

    [Test]
    public void Mpi_run_sh_forwards_sigterm_so_the_ranks_checkpoint_and_it_returns_75()
    {
        using var dir = new TempDir();
        using (var job = Job.Start(Path.Combine(Repo.Root, "mpi-run.sh"), ["-n", "3", Repo.CounterDll, .. Args(dir, 10_000, 0.02)]))
        {
            job.WaitForLine(@"^counter: step 5/");
            Job.Signal(job.Pid, "TERM");
            job.ExpectExit(75);
            Assert.That(job.Stderr, Does.Contain("mpi-run.sh: got SIGTERM, asking all ranks to checkpoint and stop"));
            Assert.That(job.Stdout, Does.Match(@"checkpoint step \d+ \(signal\)"));
            Assert.That(job.Stdout, Does.Match(@"stopping after checkpoint of step \d+ \(signal SIGTERM\)"), "the signal that arrived, not the forwarded USR1");
        }

        using var resume = Job.Start(Path.Combine(Repo.Root, "mpi-run.sh"), ["-n", "2", Repo.CounterDll, .. Args(dir, 0, 0)]);
        resume.ExpectExit(0);
        Assert.That(resume.Stdout, Does.Match(@"resumed from step \d+ \(restart 1\)"));
    }

    [Test]
    public void Metrics_record_every_checkpoint_and_restart()
    {
        using var dir = new TempDir();
        using (var job = Job.Mpi(2, Repo.CounterDll, Args(dir, 4, 0, "--checkpoint-every-steps", "2")))
        {
            job.ExpectExit(0);
        }

        using (var job = Job.Mpi(3, Repo.CounterDll, Args(dir, 6, 0)))
        {
            job.ExpectExit(0);
        }

        var lines = File.ReadAllLines(dir["ckpt/metrics.jsonl"]).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToList();
        Assert.That(lines.Select(l => $"{l.GetProperty("event").GetString()}:{l.GetProperty("step").GetInt64()}"),
            Is.EqualTo(new[] { "checkpoint:2", "checkpoint:4", "restart:4", "checkpoint:6" }));
        foreach (var l in lines.Where(l => l.GetProperty("event").GetString() == "checkpoint"))
        {
            Assert.That(l.GetProperty("bytes").GetInt64(), Is.EqualTo(96));
            Assert.That(l.GetProperty("total_s").GetDouble(), Is.GreaterThan(0).And.GreaterThanOrEqualTo(l.GetProperty("write_s").GetDouble()));
            Assert.That(l.GetProperty("file").GetString(), Does.Match(@"^ckpt-\d{9}\.h5$"));
        }

        Assert.That(lines[2].GetProperty("ranks").GetInt32(), Is.EqualTo(3));
        Assert.That(lines[2].GetProperty("writer_ranks").GetInt32(), Is.EqualTo(2));
    }

    [Test]
    public void H5dump_reads_a_snapshot()
    {
        Requires.Tool("h5dump", "apt-get install hdf5-tools");
        using var dir = new TempDir();
        using (var job = Job.Mpi(2, Repo.CounterDll, Args(dir, 2, 0, "--counters", "3", "--checkpoint-every-steps", "2")))
        {
            job.ExpectExit(0);
        }

        using var dump = Job.Start("h5dump", ["-d", "/state/count", "-a", "/step", dir["ckpt/ckpt-000000002.h5"]]);
        dump.ExpectExit(0);
        Assert.That(dump.Stdout, Does.Contain("(0): 2, 2, 2").And.Contain("ATTRIBUTE \"step\""));
    }

    [Test]
    public void Help_lists_app_and_runtime_flags()
    {
        using var job = Job.Single(Repo.CounterDll, ["--help"]);
        job.ExpectExit(0);
        foreach (string flag in new[] { "--counters", "--to", "--checkpoint-dir", "--checkpoint-every-steps", "--checkpoint-every-seconds", "--max-runtime", "--keep", "--fresh", "--stop-signals" })
        {
            Assert.That(job.Stdout, Does.Contain(flag));
        }
    }

    /// <summary>Names, times and contents of the directory's files, except the lock the runtime leaves behind.</summary>
    internal static string DirectoryHash(string path) => string.Join("\n", Directory.GetFiles(path).Where(f => !Path.GetFileName(f).StartsWith(".coordinated.", StringComparison.Ordinal)).Order().Select(f =>
        $"{Path.GetFileName(f)} {File.GetLastWriteTimeUtc(f):O} {Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f)))}"));
}

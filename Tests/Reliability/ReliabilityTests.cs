using System.Diagnostics;
using Coordinated.Study;
using Coordinated.Tests.Infrastructure;
using Coordinated.Tests.Runtime;
using static Coordinated.Tests.Infrastructure.CounterCommandLine;

namespace Coordinated.Tests.Reliability;

/// <summary>Faults, full disks, bad files and awkward signals, with real ranks, real mounts and real signals.</summary>
[NonParallelizable] // mounts, signals and oversubscribed ranks
public class ReliabilityTests
{
    private static void Run(string file, params string[] args)
    {
        using var p = Process.Start(file, args);
        p.WaitForExit();
        Assert.That(p.ExitCode, Is.Zero, $"{file} {string.Join(' ', args)}");
    }

    private sealed class SmallDisk : IDisposable
    {
        internal SmallDisk(string path, string size, bool readOnly = false)
        {
            Requires.Root("mounts a small tmpfs");
            Path = path;
            Directory.CreateDirectory(path);
            Run("mount", "-t", "tmpfs", "-o", $"size={size}{(readOnly ? ",ro" : "")}", "tmpfs", path);
        }

        internal string Path { get; }

        public void Dispose() => Run("umount", "-l", Path);
    }

    private static void WriteCounts(TempDir dir, int ranks, long to, params string[] more)
    {
        using var job = Job.Mpi(ranks, Repo.CounterDll, Args(dir, to, 0, more));
        job.ExpectExit(0);
    }

    [TestCase(false, TestName = "Disk_full_detected_before_writing_warns_and_keeps_the_previous_snapshot")]
    [TestCase(true, TestName = "Disk_full_inside_the_write_warns_removes_the_temporary_and_keeps_the_previous_snapshot")]
    public void Disk_full_during_a_periodic_checkpoint(bool skipSpaceCheck)
    {
        using var dir = new TempDir();
        using var disk = new SmallDisk(dir["ckpt"], "5m");
        // 400k int64 counters = 3.2 MB per snapshot: the first fits, the second cannot.
        var env = new Dictionary<string, string> { ["COORDINATED_SKIP_SPACE_CHECK"] = skipSpaceCheck ? "1" : "0" };
        using (var job = Job.Mpi(2, Repo.CounterDll, Args(dir, 4, 0, "--counters", "400000", "--checkpoint-every-steps", "2", "--output", dir["out.h5"]), env))
        {
            job.ExpectExit(0);
            Assert.That(job.Stderr, Does.Contain("checkpoint of step 4 failed").And.Contain("Continuing"));
            if (!skipSpaceCheck)
            {
                Assert.That(job.Stderr, Does.Contain("No space left on device").And.Contain(dir["ckpt"]));
            }
        }

        Assert.That(Directory.GetFiles(dir["ckpt"]).Select(Path.GetFileName), Does.Not.Contain(".ckpt-000000004.h5.partial"));
        Assert.That(Directory.GetFiles(dir["ckpt"], "ckpt-*.h5").Select(Path.GetFileName), Is.EqualTo(new[] { "ckpt-000000002.h5" }));
        using var resume = Job.Mpi(3, Repo.CounterDll, Args(dir, 3, 0, "--counters", "400000", "--output", dir["out3.h5"]));
        resume.ExpectExit(0);
        Assert.That(resume.Stdout, Does.Contain("resumed from step 2"));
        Assert.That(CounterTests.Counts(dir["out3.h5"]).Distinct(), Is.EqualTo(new[] { 3L }));
    }

    [Test]
    public void Disk_full_when_asked_to_stop_exits_74_with_the_reason()
    {
        using var dir = new TempDir();
        using var disk = new SmallDisk(dir["ckpt"], "1m");
        using var job = Job.Mpi(2, Repo.CounterDll, Args(dir, 1000, 0.05, "--counters", "200000"));
        job.WaitForLine(@"^counter: step 2/");
        Job.Signal(job.WaitForRanks(2)[1], "TERM");
        job.ExpectExit(74);
        Assert.That(job.Stderr, Does.Contain("asked to stop (signal").And.Contain("failed"));
        Assert.That(Directory.GetFiles(dir["ckpt"], "*.partial"), Is.Empty);
    }

    [Test]
    public void Read_only_checkpoint_directory_is_an_error_before_any_step()
    {
        using var dir = new TempDir();
        using var disk = new SmallDisk(dir["ckpt"], "1m", readOnly: true);
        using var job = Job.Mpi(2, Repo.CounterDll, Args(dir, 5, 0));
        job.ExpectExit(73);
        Assert.That(job.Stderr, Does.Contain("is not writable").And.Contain(dir["ckpt"]));
        Assert.That(job.Stdout, Does.Not.Contain("counter: step"));
    }

    [TestCase("continue", 0)]
    [TestCase("stop", 74)]
    public void A_failure_on_one_rank_only_fails_the_checkpoint_on_all_ranks(string policy, int exitCode)
    {
        using var dir = new TempDir();
        var env = new Dictionary<string, string> { ["COORDINATED_FAULT_FAIL"] = "flushed", ["COORDINATED_FAULT_RANK"] = "2", ["COORDINATED_FAULT_STEP"] = "4" };
        using var job = Job.Mpi(3, Repo.CounterDll, Args(dir, 6, 0, "--checkpoint-every-steps", "2", "--on-checkpoint-error", policy), env);
        job.ExpectExit(exitCode);
        Assert.That(job.Stderr, Does.Contain("checkpoint of step 4 failed").And.Contain("(rank 2)").And.Contain("injected failure"));
        Assert.That(Directory.GetFiles(dir["ckpt"], "*.partial"), Is.Empty);
        var steps = Directory.GetFiles(dir["ckpt"], "ckpt-*.h5").Select(Path.GetFileName).ToArray();
        Assert.That(steps, Does.Not.Contain("ckpt-000000004.h5"));
        Assert.That(steps, Does.Contain("ckpt-000000002.h5"));
    }

    [Test]
    public void A_symlink_planted_under_the_temporary_name_is_not_followed()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["victim.txt"], "precious");
        Directory.CreateDirectory(dir["ckpt"]);
        File.CreateSymbolicLink(dir["ckpt/.ckpt-000000002.h5.partial"], dir["victim.txt"]);
        File.CreateSymbolicLink(dir["ckpt/ckpt-000000999.h5"], dir["victim.txt"]);
        using (var job = Job.Mpi(2, Repo.CounterDll, Args(dir, 2, 0, "--checkpoint-every-steps", "2")))
        {
            job.ExpectExit(0);
            Assert.That(job.Stdout, Does.Contain("ignoring ckpt-000000999.h5: not a regular file"));
        }

        Assert.That(File.ReadAllText(dir["victim.txt"]), Is.EqualTo("precious"));
        Assert.That(new FileInfo(dir["ckpt/ckpt-000000002.h5"]).LinkTarget, Is.Null);
        Assert.That(new FileInfo(dir["ckpt/ckpt-000000999.h5"]).LinkTarget, Is.Not.Null, "not ours: left alone");
    }

    [Test]
    public void Snapshots_are_created_with_the_users_umask()
    {
        using var dir = new TempDir();
        using var job = Job.Start("sh", ["-c", "umask 027; exec \"$@\"", "sh", .. MpiRun.Command(2, Repo.CounterDll, Args(dir, 2, 0, "--checkpoint-every-steps", "2"))]);
        job.ExpectExit(0);
        var mode = File.GetUnixFileMode(dir["ckpt/ckpt-000000002.h5"]);
        Assert.That(mode, Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead));
    }

    [Test]
    public void Cleanup_and_retention_touch_only_the_runtimes_own_files()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["ckpt"]);
        string[] foreign = ["notes.txt", "ckpt-final.h5", "ckpt-12.h5", ".ckpt-x.partial", "latest.bak"];
        foreach (string name in foreign)
        {
            File.WriteAllText(dir["ckpt/" + name], name);
        }

        WriteCounts(dir, 2, 9, "--checkpoint-every-steps", "1", "--keep", "1");
        foreach (string name in foreign)
        {
            Assert.That(File.ReadAllText(dir["ckpt/" + name]), Is.EqualTo(name));
        }

        Assert.That(Directory.GetFiles(dir["ckpt"], "ckpt-0*.h5").Select(Path.GetFileName), Is.EqualTo(new[] { "ckpt-000000009.h5" }));
    }

    public static IEnumerable<TestCaseData> Corruptions()
    {
        yield return new TestCaseData("metadata", (Action<string>)(f => FlipBytes(f, 0, 48)), "not a readable HDF5 file").SetName("Corrupt_superblock_is_skipped");
        yield return new TestCaseData("truncated", (Action<string>)(f => new FileInfo(f).Open(FileMode.Open).SetLength(new FileInfo(f).Length / 2)), "skipping ckpt-000000004.h5").SetName("Truncated_snapshot_is_skipped");
        yield return new TestCaseData("empty", (Action<string>)(f => File.WriteAllBytes(f, [])), "not a readable HDF5 file").SetName("Zero_length_snapshot_is_skipped");
        yield return new TestCaseData("foreign", (Action<string>)(f => H5Py.Run(f, "import os; os.remove(path); h5py.File(path, 'w').create_dataset('x', data=[1,2,3])")), "not a Coordinated checkpoint").SetName("Foreign_HDF5_file_named_like_a_snapshot_is_skipped");
        yield return new TestCaseData("attribute", (Action<string>)(f => H5Py.Run(f, "f = h5py.File(path, 'r+'); f.attrs['app'] = 'nbody'; f.close()")), "written by app 'nbody'").SetName("Snapshot_of_another_app_is_skipped");
    }

    private static void FlipBytes(string file, long offset, int count)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite);
        var buffer = new byte[count];
        stream.Position = offset;
        stream.ReadExactly(buffer);
        for (int i = 0; i < count; i++)
        {
            buffer[i] ^= 0xA5;
        }

        stream.Position = offset;
        stream.Write(buffer);
    }

    [TestCaseSource(nameof(Corruptions))]
    public void Damaged_newest_snapshot_is_reported_and_the_previous_one_used(string kind, Action<string> damage, string message)
    {
        using var dir = new TempDir();
        WriteCounts(dir, 2, 4, "--checkpoint-every-steps", "2");
        damage(dir["ckpt/ckpt-000000004.h5"]);
        using var resume = Job.Mpi(2, Repo.CounterDll, Args(dir, 5, 0, "--output", dir["out.h5"]));
        resume.ExpectExit(0);
        Assert.That(resume.Stderr, Does.Contain("skipping ckpt-000000004.h5").And.Contain(message), kind);
        Assert.That(resume.Stdout, Does.Contain("resumed from step 2"));
        Assert.That(CounterTests.Counts(dir["out.h5"]).Distinct(), Is.EqualTo(new[] { 5L }));
    }

    [Test]
    public void Only_a_foreign_file_present_exits_65_and_changes_nothing()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["ckpt"]);
        H5Py.Run(dir["ckpt/ckpt-000000010.h5"], "h5py.File(path, 'w').attrs['format'] = 'something-else'");
        string before = CounterTests.DirectoryHash(dir["ckpt"]);
        using var job = Job.Mpi(2, Repo.CounterDll, Args(dir, 5, 0));
        job.ExpectExit(65);
        Assert.That(job.Stderr, Does.Contain("no usable snapshot").And.Contain("not a Coordinated checkpoint (format is 'something-else')"));
        Assert.That(CounterTests.DirectoryHash(dir["ckpt"]), Is.EqualTo(before));
    }

    [Test]
    public void A_dangling_latest_pointer_is_reported_and_the_newest_snapshot_used()
    {
        using var dir = new TempDir();
        WriteCounts(dir, 2, 4, "--checkpoint-every-steps", "2");
        File.WriteAllText(dir["ckpt/latest"], "ckpt-000000777.h5\n");
        using var resume = Job.Mpi(1, Repo.CounterDll, Args(dir, 5, 0));
        resume.ExpectExit(0);
        Assert.That(resume.Stdout, Does.Contain("'latest' names ckpt-000000777.h5, which does not exist"));
        Assert.That(resume.Stdout, Does.Contain("resumed from step 4"));
    }

    [Test]
    public void Signal_during_restore_stops_with_75_without_writing_anything()
    {
        using var dir = new TempDir();
        WriteCounts(dir, 2, 4, "--checkpoint-every-steps", "4");
        byte[] before = File.ReadAllBytes(dir["ckpt/ckpt-000000004.h5"]);
        var hold = new FaultHold(dir, "restore-opened", rank: 0);
        using var job = Job.Mpi(2, Repo.CounterDll, Args(dir, 100, 0.05), hold.Environment);
        hold.WaitUntilHeld(job, 0);
        hold.Signal(job, 0, job.WaitForRanks(2)[0], "TERM");
        hold.Release();
        job.ExpectExit(75);
        Assert.That(job.Stdout, Does.Contain("resumed from step 4").And.Contain("stopping at step 4 (signal during start-up)"));
        Assert.That(Directory.GetFiles(dir["ckpt"], "ckpt-*.h5").Select(Path.GetFileName), Is.EqualTo(new[] { "ckpt-000000004.h5" }));
        Assert.That(File.ReadAllBytes(dir["ckpt/ckpt-000000004.h5"]), Is.EqualTo(before), "the snapshot resumed from is unchanged");
    }

    [Test]
    public void Signal_during_a_checkpoint_completes_it_then_stops_consistently()
    {
        using var dir = new TempDir();
        var hold = new FaultHold(dir, "state-written", step: 6);
        using (var job = Job.Mpi(3, Repo.CounterDll, Args(dir, 100, 0.01, "--checkpoint-every-steps", "6", "--keep", "5"), hold.Environment))
        {
            hold.WaitUntilHeld(job, 0, 1, 2);
            var pids = job.WaitForRanks(3);
            hold.Signal(job, 0, pids[0], "TERM");
            hold.Signal(job, 2, pids[2], "USR1");
            hold.Release();
            job.ExpectExit(75);
            Assert.That(job.Stdout, Does.Contain("checkpoint step 6 (every-steps)").And.Contain("checkpoint step 7 (signal)"));
        }

        Assert.That(Directory.GetFiles(dir["ckpt"], "ckpt-*.h5").Select(Path.GetFileName).Order(),
            Is.EqualTo(new[] { "ckpt-000000006.h5", "ckpt-000000007.h5" }));
        using var resume = Job.Mpi(2, Repo.CounterDll, Args(dir, 9, 0, "--output", dir["out.h5"]));
        resume.ExpectExit(0);
        Assert.That(resume.Stdout, Does.Contain("resumed from step 7"));
        Assert.That(CounterTests.Counts(dir["out.h5"]).Distinct(), Is.EqualTo(new[] { 9L }));
    }

    [Test]
    public void Signal_storm_gives_one_consistent_snapshot_and_exit_75()
    {
        using var dir = new TempDir();
        using (var job = Job.Mpi(4, Repo.CounterDll, Args(dir, 10_000, 0.002, "--checkpoint-every-steps", "7"), null))
        {
            job.WaitForLine(@"^counter: step 20/");
            var pids = job.WaitForRanks(4).Values.ToArray();
            var random = new Random(42);
            string[] signals = ["TERM", "INT", "USR1", "USR2"];
            for (int i = 0; i < 40; i++)
            {
                Job.Signal(pids[random.Next(pids.Length)], signals[random.Next(signals.Length)]);
            }

            job.ExpectExit(75);
        }

        string newest = Directory.GetFiles(dir["ckpt"], "ckpt-*.h5").Order().Last();
        long step = H5Py.Attributes(newest).GetProperty("step").GetInt64();
        Assert.That(CounterTests.Counts(newest).Distinct(), Is.EqualTo(new[] { step }));
        using var resume = Job.Mpi(3, Repo.CounterDll, Args(dir, step + 3, 0, "--output", dir["out.h5"]));
        resume.ExpectExit(0);
        Assert.That(CounterTests.Counts(dir["out.h5"]).Distinct(), Is.EqualTo(new[] { step + 3 }));
    }

    [Test]
    public void When_one_rank_dies_the_others_do_not_hang()
    {
        using var dir = new TempDir();
        using var job = Job.Mpi(3, Repo.CounterDll, Args(dir, 10_000, 0.01, "--checkpoint-every-steps", "5"));
        job.WaitForLine(@"^counter: step 12/");
        Job.Signal(job.WaitForRanks(3)[1], "KILL");
        int code = job.WaitForExit(TimeSpan.FromSeconds(60));
        Assert.That(code, Is.Not.Zero.And.Not.EqualTo(75));
        Assert.That(ProcessTable.Descendants(job.Pid), Is.Empty, "no rank left behind");
        using var resume = Job.Mpi(2, Repo.CounterDll, Args(dir, 20, 0, "--output", dir["out.h5"]));
        resume.ExpectExit(0);
        Assert.That(CounterTests.Counts(dir["out.h5"]).Distinct(), Is.EqualTo(new[] { 20L }));
    }
}

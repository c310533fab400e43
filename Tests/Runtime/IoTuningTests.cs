using Coordinated.Checkpointing;
using Coordinated.Tests.Infrastructure;

namespace Coordinated.Tests.Runtime;

public class IoTuningTests
{
    [Test]
    public void Defaults_are_the_measured_best()
    {
        var tuning = IoTuning.Parse(null);
        Assert.Multiple(() =>
        {
            Assert.That(tuning.CollectiveData, Is.False);
            Assert.That(tuning.StartWriteback, Is.True);
            Assert.That(tuning.ChecksumStreams, Is.EqualTo(3));
            Assert.That(tuning.DeferDeletion, Is.True);
            Assert.That(tuning.Recycle, Is.True);
            Assert.That(tuning.AlignmentBytes, Is.EqualTo(1 << 20));
        });
    }

    [Test]
    public void Each_setting_switches_one_choice_back()
    {
        var tuning = IoTuning.Parse(" collective, no-writeback,crc-streams=1 ,sync-delete,no-recycle,align=0");
        Assert.That(tuning, Is.EqualTo(new IoTuning
        {
            CollectiveData = true, StartWriteback = false, ChecksumStreams = 1, DeferDeletion = false, Recycle = false, AlignmentBytes = 0,
        }));
    }

    [TestCase("colective")]
    [TestCase("align=-1")]
    [TestCase("crc-streams=2")]
    public void An_unknown_setting_is_a_usage_error_naming_it(string value)
    {
        var error = Assert.Throws<UsageException>(() => IoTuning.Parse(value));
        Assert.That(error!.Message, Does.Contain($"'{value}'"));
    }

    [Test]
    public void Mpiio_hints_are_key_value_pairs_in_order() =>
        Assert.That(IoTuning.ParseHints(" romio_cb_write=enable; striping_factor = 4;"),
            Is.EqualTo(new[] { ("romio_cb_write", "enable"), ("striping_factor", "4") }));

    [TestCase("romio_cb_write", "romio_cb_write")]
    [TestCase("=enable", "=enable")]
    [TestCase("striping_factor=", "striping_factor=")]
    [TestCase("cb nodes=2", "cb nodes=2")]
    [TestCase("a=1;b", "b")]
    public void A_malformed_mpiio_hint_is_a_usage_error_naming_it(string value, string entry)
    {
        var error = Assert.Throws<UsageException>(() => IoTuning.ParseHints(value));
        Assert.That(error!.Message, Does.Contain($"COORDINATED_MPIIO_HINTS: '{entry}' is not key=value"));
    }
}

/// <summary>The I/O choices change speed only: the bytes written are the same whichever is taken.</summary>
[NonParallelizable]
public class IoTuningEquivalenceTests
{
    private static string[] Args(TempDir dir, string name) =>
        ["--to", "2", "--counters", "5000000", "--checkpoint-every-steps", "1", "--keep", "1", "--checkpoint-dir", dir[name], "--quiet"];

    [Test]
    public void Every_setting_writes_the_same_state_and_checksums()
    {
        // 5M counters on 3 ranks: about 13 MB a rank, so three full 4 MiB checksum blocks and a partial one each.
        using var dir = new TempDir();
        using (var tuned = Job.Mpi(3, Repo.CounterDll, Args(dir, "tuned")))
        {
            tuned.ExpectExit(0);
        }

        var baseline = new Dictionary<string, string> { ["COORDINATED_IO"] = "collective,no-writeback,crc-streams=1,sync-delete,no-recycle,align=0" };
        using (var plain = Job.Mpi(3, Repo.CounterDll, Args(dir, "plain"), baseline))
        {
            plain.ExpectExit(0);
        }

        string a = Path.Combine(dir["tuned"], "ckpt-000000002.h5"), b = Path.Combine(dir["plain"], "ckpt-000000002.h5");
        Assert.That(Directory.GetFiles(dir["tuned"], "ckpt-*.h5"), Has.Length.EqualTo(1), "keep 1: the step-1 snapshot was deleted");
        Assert.That(H5Py.DatasetBytes(a, "/state/count"), Is.EqualTo(H5Py.DatasetBytes(b, "/state/count")), "/state/count");
        Assert.That(H5Py.DatasetBytes(a, "/checksums/count"), Is.EqualTo(H5Py.DatasetBytes(b, "/checksums/count")), "/checksums/count");
        Assert.That(H5Py.DatasetBytes(a, "/checksums/count"), Has.Length.EqualTo(3 * 4 * 3 * 8), "3 ranks x 4 rows x (offset, count, crc)");
    }

    [Test]
    public void A_bad_setting_stops_the_run_before_it_starts()
    {
        using var dir = new TempDir();
        using var job = Job.Mpi(2, Repo.CounterDll, Args(dir, "ckpt"), new Dictionary<string, string> { ["COORDINATED_IO"] = "fast" });
        job.ExpectExit(64);
        Assert.That(job.Stderr, Does.Contain("COORDINATED_IO: unknown setting 'fast'"));
        Assert.That(Directory.Exists(dir["ckpt"]) ? Directory.GetFiles(dir["ckpt"], "ckpt-*") : [], Is.Empty);
    }

    [Test]
    public void A_malformed_mpiio_hint_exits_64_before_anything_is_created()
    {
        using var dir = new TempDir();
        var env = new Dictionary<string, string> { ["COORDINATED_MPIIO_HINTS"] = "romio_cb_write=enable;striping_factor" };
        using var job = Job.Mpi(2, Repo.CounterDll, Args(dir, "ckpt"), env);
        job.ExpectExit(64);
        Assert.That(job.Stderr, Does.Contain("COORDINATED_MPIIO_HINTS: 'striping_factor' is not key=value"));
        Assert.That(job.Stderr, Does.Not.Contain(" at Coordinated."), "no stack trace");
        Assert.That(Directory.Exists(dir["ckpt"]), Is.False, "nothing created");
    }

    [Test]
    public void Mpiio_hints_reach_every_snapshot_file_and_the_result_is_unchanged()
    {
        using var dir = new TempDir();
        var env = new Dictionary<string, string> { ["COORDINATED_MPIIO_HINTS"] = "romio_cb_write=enable;cb_nodes=1" };
        using (var job = Job.Mpi(2, Repo.CounterDll, ["--to", "3", "--counters", "10", "--checkpoint-every-steps", "2", "--checkpoint-dir", dir["ckpt"], "--output", dir["out.h5"]], env))
        {
            job.ExpectExit(0);
            Assert.That(job.Stdout, Does.Contain("MPI-IO hints for snapshot files: romio_cb_write=enable; cb_nodes=1"));
        }

        using (var resume = Job.Mpi(3, Repo.CounterDll, ["--to", "5", "--counters", "10", "--checkpoint-dir", dir["ckpt"], "--output", dir["out.h5"]], env))
        {
            resume.ExpectExit(0);
            Assert.That(resume.Stdout, Does.Contain("resumed from step 3"));
        }

        Assert.That(CounterTests.Counts(dir["out.h5"]), Is.EqualTo(Enumerable.Repeat(5L, 10)));
    }
}

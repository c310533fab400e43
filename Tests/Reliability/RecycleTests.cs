using System.Diagnostics;
using Coordinated.Tests.Infrastructure;
using Coordinated.Tests.Runtime;
using static Coordinated.Tests.Infrastructure.CounterCommandLine;

namespace Coordinated.Tests.Reliability;

/// <summary>
/// Recycling: a superseded snapshot is renamed out of the committed names after the commit and overwritten in place
/// by the next checkpoint (docs/RELIABILITY.md). The rewritten file must read back exactly like a new one, and a
/// crash while it is rewritten must leave the previous snapshot in use.
/// </summary>
[NonParallelizable] // oversubscribed ranks
public class RecycleTests
{
    private static long Inode(string path)
    {
        var info = new ProcessStartInfo("stat", ["-c", "%i", path]) { RedirectStandardOutput = true };
        using var process = Process.Start(info)!;
        string inode = process.StandardOutput.ReadToEnd().Trim();
        process.WaitForExit();
        Assert.That(process.ExitCode, Is.Zero, $"stat {path}");
        return long.Parse(inode);
    }

    [Test]
    public void A_superseded_snapshot_is_rewritten_in_place_and_reads_back_like_a_new_file()
    {
        // keep 1, a checkpoint every step: step 1 and 2 are new files; after the commit of 3, the file of step 2 is
        // recycled, and step 4 is written into it. Held after the commit of step 2 to note that file's inode.
        using var dir = new TempDir();
        var hold = new FaultHold(dir, "renamed", step: 2, rank: 0);
        string[] Counter(string ckpt) => ["--to", "4", "--counters", "3000", "--checkpoint-every-steps", "1", "--keep", "1", "--checkpoint-dir", dir[ckpt]];
        long inode;
        using (var job = Job.Mpi(2, Repo.CounterDll, Counter("ckpt"), hold.Environment))
        {
            hold.WaitUntilHeld(job, 0);
            inode = Inode(dir["ckpt/ckpt-000000002.h5"]);
            hold.Release();
            job.ExpectExit(0);
        }

        string rewritten = dir["ckpt/ckpt-000000004.h5"];
        Assert.That(Inode(rewritten), Is.EqualTo(inode), "step 4 was written into the file of step 2");
        Assert.That(Directory.GetFiles(dir["ckpt"]).Select(Path.GetFileName).Where(n => n!.EndsWith(".h5", StringComparison.Ordinal)),
            Is.EqualTo(new[] { "ckpt-000000004.h5" }), "keep 1, and no recycled file is left after a clean exit");

        using (var plain = Job.Mpi(2, Repo.CounterDll, Counter("plain"),
            new Dictionary<string, string> { ["COORDINATED_IO"] = "no-recycle" }))
        {
            plain.ExpectExit(0);
        }

        string fresh = dir["plain/ckpt-000000004.h5"];
        Assert.That(H5Py.DatasetBytes(rewritten, "/state/count"), Is.EqualTo(H5Py.DatasetBytes(fresh, "/state/count")));
        Assert.That(H5Py.DatasetBytes(rewritten, "/checksums/count"), Is.EqualTo(H5Py.DatasetBytes(fresh, "/checksums/count")));
        var attributes = H5Py.Attributes(rewritten);
        Assert.That(attributes.EnumerateObject().Select(p => p.Name).Order(),
            Is.EqualTo(H5Py.Attributes(fresh).EnumerateObject().Select(p => p.Name).Order()), "the same attributes, none left over");
        Assert.That(attributes.GetProperty("step").GetInt64(), Is.EqualTo(4));

        using var resume = Job.Mpi(3, Repo.CounterDll, Args(dir, 6, 0, "--counters", "3000", "--output", dir["out.h5"]));
        resume.ExpectExit(0);
        Assert.That(resume.Stdout, Does.Contain("resumed from step 4"));
        Assert.That(CounterTests.Counts(dir["out.h5"]), Is.EqualTo(Enumerable.Repeat(6L, 3000)));
    }

    [TestCase("created")]
    [TestCase("state-written")]
    [TestCase("flushed")]
    public void Kill_9_while_a_recycled_file_is_rewritten_leaves_the_previous_snapshot_valid(string point)
    {
        using var dir = new TempDir();
        var env = new Dictionary<string, string> { ["COORDINATED_FAULT_PAUSE"] = point, ["COORDINATED_FAULT_STEP"] = "4" };
        using (var job = Job.Mpi(3, Repo.CounterDll, Args(dir, 100, 0, "--checkpoint-every-steps", "1", "--keep", "1"), env))
        {
            job.WaitForLine($@"\[coordinated-fault\] paused at {point}");
            var partial = new FileInfo(dir["ckpt/.ckpt-000000004.h5.partial"]);
            Assert.That(partial.Exists, Is.True, "the recycled file is being rewritten under the temporary name");
            Assert.That(partial.Length, Is.EqualTo(new FileInfo(dir["ckpt/ckpt-000000003.h5"]).Length), "already full size when opened: the file of step 2, recycled");
            job.KillNine();
        }

        Assert.That(Directory.GetFiles(dir["ckpt"], "ckpt-*.h5").Select(Path.GetFileName), Is.EqualTo(new[] { "ckpt-000000003.h5" }));
        using var resume = Job.Mpi(2, Repo.CounterDll, Args(dir, 10, 0, "--output", dir["out.h5"]));
        resume.ExpectExit(0);
        Assert.That(resume.Stdout, Does.Contain("removed .ckpt-000000004.h5.partial"));
        Assert.That(resume.Stdout, Does.Contain("resumed from step 3"));
        Assert.That(CounterTests.Counts(dir["out.h5"]), Is.EqualTo(Enumerable.Repeat(10L, 12)));
    }

    [Test]
    public void A_snapshot_whose_step_differs_from_its_name_is_never_trusted()
    {
        using var dir = new TempDir();
        using (var job = Job.Mpi(2, Repo.CounterDll, Args(dir, 10, 0, "--checkpoint-every-steps", "5")))
        {
            job.ExpectExit(0);
        }

        File.Copy(dir["ckpt/ckpt-000000005.h5"], dir["ckpt/ckpt-000000012.h5"]);
        using var resume = Job.Mpi(2, Repo.CounterDll, Args(dir, 11, 0, "--output", dir["out.h5"]));
        resume.ExpectExit(0);
        Assert.That(resume.Stderr, Does.Contain("skipping ckpt-000000012.h5: its 'step' attribute says 5, its name says 12"));
        Assert.That(resume.Stdout, Does.Contain("resumed from step 10"));
        Assert.That(CounterTests.Counts(dir["out.h5"]), Is.EqualTo(Enumerable.Repeat(11L, 12)));
    }
}

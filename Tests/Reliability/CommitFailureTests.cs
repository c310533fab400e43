using Coordinated.Checkpointing;
using Coordinated.Tests.Infrastructure;

namespace Coordinated.Tests.Reliability;

/// <summary>Every step of the commit protocol counts: a failure at the commit point fails the checkpoint.</summary>
[NonParallelizable] // oversubscribed ranks
public class CommitFailureTests
{
    [TestCase("continue", 0, TestName = "A_failed_directory_fsync_at_the_commit_point_discards_the_checkpoint_and_goes_on")]
    [TestCase("stop", 74, TestName = "A_failed_directory_fsync_at_the_commit_point_stops_with_74_when_told_to")]
    public void A_failed_directory_fsync_fails_the_checkpoint(string policy, int exitCode)
    {
        // fsync of the directory after the rename is made to return EIO (the rename may not survive a crash).
        using var dir = new TempDir();
        var env = new Dictionary<string, string> { ["COORDINATED_FAULT_FAIL"] = "fsync-directory", ["COORDINATED_FAULT_STEP"] = "4" };
        using (var job = Job.Mpi(2, Repo.CounterDll,
            ["--to", "6", "--step-seconds", "0", "--checkpoint-every-steps", "4", "--on-checkpoint-error", policy,
             "--checkpoint-dir", dir["ckpt"]], env))
        {
            job.ExpectExit(exitCode);
            Assert.That(job.Stderr, Does.Contain("checkpoint of step 4 failed").And.Contain("fsync(").And.Contain("Input/output error"));
            Assert.That(job.Stdout, Does.Not.Contain("checkpoint step 4 "), "never reported as committed");
        }

        string[] left = [.. Directory.GetFiles(dir["ckpt"], "*.h5*").Select(Path.GetFileName).Order()!];
        var failed = MetricsLog.Read(dir["ckpt/metrics.jsonl"]).OfType<CheckpointFailedEvent>().Single();
        Assert.That((failed.Step, failed.Trigger), Is.EqualTo((4L, "every-steps")));
        Assert.That(failed.Error, Does.Contain("fsync("));
        if (exitCode == 0)
        {
            Assert.That(left, Is.EqualTo(new[] { "ckpt-000000006.h5" }), "step 4 is gone, the final snapshot is committed");
            Assert.That(File.ReadAllText(dir["ckpt/latest"]).Trim(), Is.EqualTo("ckpt-000000006.h5"));
        }
        else
        {
            Assert.That(left, Is.Empty, "neither the renamed file nor the temporary is left");
            Assert.That(File.Exists(dir["ckpt/latest"]), Is.False);
        }
    }
}

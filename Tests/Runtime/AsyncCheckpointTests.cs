using Coordinated.Tests.Infrastructure;

namespace Coordinated.Tests.Runtime;

/// <summary>
/// --checkpoint-async: the state is staged at the step boundary and written by an I/O thread while the app goes on
/// changing it. Every snapshot must still hold exactly the state of its own step.
/// </summary>
[NonParallelizable]
public class AsyncCheckpointTests
{
    [Test]
    public void Each_async_snapshot_holds_the_state_of_its_own_step_while_the_run_goes_on()
    {
        // 3M counters (24 MB): writing takes far longer than a step, so without staging the files would hold later counts.
        using var dir = new TempDir();
        using var job = Job.Mpi(3, Repo.CounterDll,
            ["--to", "22", "--counters", "3000000", "--checkpoint-every-steps", "5", "--checkpoint-async", "--keep", "10",
             "--checkpoint-dir", dir["ckpt"], "--report-every", "1"]);
        job.ExpectExit(0);
        Assert.That(job.Stdout, Does.Match(@"checkpoint step 5 \(every-steps\), async: staged in"));
        Assert.That(job.Stdout, Does.Match(@"checkpoint step 22 \(final\):"), "the final snapshot is synchronous");

        var snapshots = Directory.GetFiles(dir["ckpt"], "ckpt-*.h5").Order().ToArray();
        Assert.That(snapshots.Select(Path.GetFileName), Is.EqualTo(new[] { "ckpt-000000005.h5", "ckpt-000000010.h5", "ckpt-000000015.h5", "ckpt-000000020.h5", "ckpt-000000022.h5" }));
        foreach (string file in snapshots)
        {
            long step = H5Py.Attributes(file).GetProperty("step").GetInt64();
            long[] counts = CounterTests.Counts(file);
            Assert.That(counts.Distinct(), Is.EqualTo(new[] { step }), $"{Path.GetFileName(file)}: every counter must hold step {step}");
        }
    }

    [Test]
    public void A_signal_while_an_async_checkpoint_is_in_flight_commits_both_in_order_and_stops_with_75()
    {
        using var dir = new TempDir();
        using (var job = Job.Mpi(2, Repo.CounterDll,
            ["--to", "100000", "--counters", "2000000", "--step-seconds", "0.01", "--checkpoint-every-steps", "3", "--checkpoint-async",
             "--checkpoint-dir", dir["ckpt"], "--report-every", "1"]))
        {
            job.WaitForLine(@"checkpoint step 6 \(every-steps\), async");
            Job.Signal(job.WaitForRanks(2)[1], "TERM");
            job.ExpectExit(75);
            Assert.That(job.Stdout, Does.Match(@"checkpoint step (\d+) \(signal\)"));
        }

        var snapshots = Directory.GetFiles(dir["ckpt"], "ckpt-*.h5").Order().ToArray();
        long newest = H5Py.Attributes(snapshots[^1]).GetProperty("step").GetInt64();
        Assert.That(H5Py.Attributes(snapshots[^1]).GetProperty("trigger").GetString(), Is.EqualTo("signal"));
        Assert.That(CounterTests.Counts(snapshots[^1]).Distinct(), Is.EqualTo(new[] { newest }));

        using var resume = Job.Mpi(3, Repo.CounterDll,
            ["--to", (newest + 4).ToString(), "--counters", "2000000", "--checkpoint-dir", dir["ckpt"], "--checkpoint-async",
             "--checkpoint-every-steps", "2", "--output", dir["out.h5"]]);
        resume.ExpectExit(0);
        Assert.That(resume.Stdout, Does.Contain($"resumed from step {newest} (restart 1)"));
        Assert.That(CounterTests.Counts(dir["out.h5"]).Distinct(), Is.EqualTo(new[] { newest + 4 }));
    }
}

using Coordinated.Checkpointing;
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
        // The I/O threads are held inside the write of step 6 while the ranks go on computing; a SIGTERM lands then.
        using var dir = new TempDir();
        var hold = new FaultHold(dir, "state-written", step: 6);
        using (var job = Job.Mpi(2, Repo.CounterDll,
            ["--to", "100000", "--counters", "200000", "--step-seconds", "0.01", "--checkpoint-every-steps", "3", "--checkpoint-async",
             "--keep", "10", "--checkpoint-dir", dir["ckpt"], "--report-every", "1"], hold.Environment))
        {
            hold.WaitUntilHeld(job, 0, 1);
            Assert.That(job.Stdout, Does.Not.Contain("checkpoint step 6 "), "held: step 6 is not committed yet");
            hold.Signal(job, 1, job.WaitForRanks(2)[1], "TERM");
            hold.Release();
            job.ExpectExit(75);
        }

        // Both the held asynchronous checkpoint and the signal's checkpoint are committed, in step order.
        var events = MetricsLog.Read(dir["ckpt/metrics.jsonl"]).OfType<CheckpointEvent>().ToList();
        Assert.That(events.Select(e => e.Step), Is.Ordered.Ascending.And.Unique, "commits in step order");
        var held = events.Single(e => e.Step == 6);
        var stop = events[^1];
        Assert.That((held.Trigger, held.StageSeconds.HasValue), Is.EqualTo(("every-steps", true)), "step 6 was the asynchronous one");
        Assert.That((stop.Trigger, stop.StageSeconds.HasValue), Is.EqualTo(("signal", false)), "the stop is synchronous and last");
        Assert.That(stop.Step, Is.GreaterThan(6));
        Assert.That(File.ReadAllText(dir["ckpt/latest"]).Trim(), Is.EqualTo(stop.File));
        foreach (var e in new[] { held, stop })
        {
            Assert.That(CounterTests.Counts(dir["ckpt/" + e.File]).Distinct(), Is.EqualTo(new[] { e.Step }), $"{e.File} holds the state of its own step");
        }

        using var resume = Job.Mpi(3, Repo.CounterDll,
            ["--to", (stop.Step + 4).ToString(), "--counters", "200000", "--checkpoint-dir", dir["ckpt"], "--checkpoint-async",
             "--checkpoint-every-steps", "2", "--output", dir["out.h5"]]);
        resume.ExpectExit(0);
        Assert.That(resume.Stdout, Does.Contain($"resumed from step {stop.Step} (restart 1)"));
        Assert.That(CounterTests.Counts(dir["out.h5"]).Distinct(), Is.EqualTo(new[] { stop.Step + 4 }));
    }
}

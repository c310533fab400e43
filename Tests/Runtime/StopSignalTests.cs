using Coordinated.Tests.Infrastructure;

namespace Coordinated.Tests.Runtime;

/// <summary>The stop signals are covered from the first instruction of CoordinatedApp.Run to the exit.</summary>
[NonParallelizable] // real signals
public class StopSignalTests
{
    [Test]
    public void A_sigterm_while_the_chosen_stop_signals_are_applied_is_not_lost()
    {
        // The second registration (after --stop-signals is parsed) is held; a SIGTERM lands exactly then. With the
        // handlers replaced (old ones disposed first) the rank would die by the signal instead of stopping with 75.
        using var dir = new TempDir();
        var hold = new FaultHold(dir, "signals-registered", step: 2);
        using var job = Job.Mpi(1, Repo.CounterDll, ["--to", "50", "--step-seconds", "0.01", "--checkpoint-dir", dir["ckpt"]], hold.Environment);
        hold.WaitUntilHeld(job, 0);
        hold.Signal(job, 0, job.WaitForRanks(1)[0], "TERM");
        hold.Release();
        job.ExpectExit(75);
        Assert.That(job.Stdout, Does.Contain("stopping at step 0 (signal during start-up); nothing was computed yet"));
        Assert.That(Directory.GetFiles(dir["ckpt"], "ckpt-*.h5"), Is.Empty);
    }
}

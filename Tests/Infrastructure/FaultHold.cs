namespace Coordinated.Tests.Infrastructure;

/// <summary>
/// Holds ranks at a fault point until the test releases them (COORDINATED_FAULT_PAUSE with COORDINATED_FAULT_RELEASE):
/// the test acts exactly while the ranks are held (a signal), waits until a held rank has seen it, then releases.
/// The rank's stderr lines are the synchronisation points; no sleeps.
/// </summary>
internal sealed class FaultHold
{
    private readonly string _directory;
    private readonly string _point;

    internal FaultHold(TempDir dir, string point, long? step = null, int? rank = null)
    {
        _directory = dir["fault-hold"];
        Directory.CreateDirectory(_directory);
        _point = point;
        Environment = new Dictionary<string, string>
        {
            ["COORDINATED_FAULT_PAUSE"] = point,
            ["COORDINATED_FAULT_RELEASE"] = _directory,
        };
        if (step is long s)
        {
            Environment["COORDINATED_FAULT_STEP"] = s.ToString();
        }

        if (rank is int r)
        {
            Environment["COORDINATED_FAULT_RANK"] = r.ToString();
        }
    }

    /// <summary>The variables to start the job with.</summary>
    internal Dictionary<string, string> Environment { get; }

    /// <summary>Waits until each of <paramref name="ranks"/> is held at the point.</summary>
    internal void WaitUntilHeld(Job job, params int[] ranks)
    {
        foreach (int rank in ranks)
        {
            job.WaitForLine($@"paused at {_point} on rank {rank}\b");
            Assert.That(File.Exists(Path.Combine(_directory, $"reached.{rank}")), Is.True, $"rank {rank} held but left no marker");
        }
    }

    /// <summary>Sends <paramref name="signal"/> to a held rank and waits until that rank's stop flag is set.</summary>
    internal void Signal(Job job, int rank, int pid, string signal)
    {
        Job.Signal(pid, signal);
        job.WaitForLine($@"SIG{signal} arrived while paused at {_point} on rank {rank}\b");
    }

    /// <summary>Lets every held rank go on.</summary>
    internal void Release() => File.WriteAllText(Path.Combine(_directory, "release"), "");
}

namespace Coordinated.Checkpointing;

/// <summary>
/// Test hooks at the named points of the checkpoint protocol, driven by environment variables (never set in
/// production). <c>COORDINATED_FAULT_PAUSE=POINT</c> prints a line to stderr and blocks there: forever (a test
/// waits for the line, then kills the job), or, with <c>COORDINATED_FAULT_RELEASE=DIR</c>, until the test creates
/// <c>DIR/release</c>; the rank creates <c>DIR/reached.RANK</c> when it gets there, so a test can act exactly while
/// the rank is held (send a signal; the rank then creates <c>DIR/signalled.RANK</c> once its stop flag is set)
/// and then let it go on. <c>COORDINATED_FAULT_FAIL=POINT</c> makes the point fail
/// (an IOException, or for <c>fsync-directory</c> the fsync's result). <c>COORDINATED_FAULT_RANK=R</c> limits either
/// to one rank, <c>COORDINATED_FAULT_STEP=S</c> to one step. Points: signals-registered, created, state-written,
/// closed, flushed, fsync-directory, renamed, latest-written, restore-opened, step-boundary; for the local level
/// local-write (a node leader about to write its files), local-full (FAIL only: the write fails as with ENOSPC) and
/// local-committed (every rank, after the agreement on a local checkpoint).
/// </summary>
internal static class FaultInjection
{
    private static readonly string? s_pause = Environment.GetEnvironmentVariable("COORDINATED_FAULT_PAUSE");
    private static readonly string? s_fail = Environment.GetEnvironmentVariable("COORDINATED_FAULT_FAIL");
    private static readonly string? s_release = Environment.GetEnvironmentVariable("COORDINATED_FAULT_RELEASE");
    private static readonly int? s_rank = int.TryParse(Environment.GetEnvironmentVariable("COORDINATED_FAULT_RANK"), out int r) ? r : null;
    private static readonly long? s_step = long.TryParse(Environment.GetEnvironmentVariable("COORDINATED_FAULT_STEP"), out long s) ? s : null;

    /// <summary>Pauses or throws at <paramref name="point"/> when a test asked for it. Local.</summary>
    internal static void At(string point, int rank, long step)
    {
        if (!Applies(rank, step))
        {
            return;
        }

        if (s_pause == point)
        {
            Hold(point, rank, step);
        }

        if (s_fail == point)
        {
            throw new IOException($"injected failure at {point} (COORDINATED_FAULT_FAIL)");
        }
    }

    /// <summary>True when a test asked <paramref name="point"/> to fail (the caller fakes the failure). Local.</summary>
    internal static bool Fails(string point, int rank, long step) => s_fail == point && Applies(rank, step);

    private static bool Applies(int rank, long step) =>
        (s_pause is not null || s_fail is not null)
        && !(s_rank is int onlyRank && onlyRank != rank)
        && !(s_step is long onlyStep && onlyStep != step);

    private static void Hold(string point, int rank, long step)
    {
        int signals = StopSignals.Count; // before the test can know it is held, so no signal is missed
        if (s_release is string marker)
        {
            File.WriteAllText(Path.Combine(marker, $"reached.{rank}"), $"{point} {step}\n"); // before the line a test waits for
        }

        Console.Error.WriteLine($"[coordinated-fault] paused at {point} on rank {rank}, step {step}");
        Console.Error.Flush();
        if (s_release is not string directory)
        {
            Thread.Sleep(Timeout.Infinite);
            return;
        }

        string release = Path.Combine(directory, "release");
        while (!File.Exists(release))
        {
            if (StopSignals.Count != signals)
            {
                // The handler only sets a flag; this hook reports it, so a test knows the signal landed while held.
                signals = StopSignals.Count;
                File.WriteAllText(Path.Combine(directory, $"signalled.{rank}"), $"{signals}\n");
                Console.Error.WriteLine($"[coordinated-fault] {StopSignals.LastSignal} arrived while paused at {point} on rank {rank}");
                Console.Error.Flush();
            }

            Thread.Sleep(10);
        }

        Console.Error.WriteLine($"[coordinated-fault] released at {point} on rank {rank}, step {step}");
        Console.Error.Flush();
    }
}

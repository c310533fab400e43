namespace Coordinated.Checkpointing;

/// <summary>
/// Test hooks at the named points of the checkpoint protocol, driven by environment variables (never set in
/// production): <c>COORDINATED_FAULT_PAUSE=POINT</c> prints a line to stderr and blocks forever there (a test waits
/// for the line, then kills the job); <c>COORDINATED_FAULT_FAIL=POINT</c> throws an IOException there.
/// <c>COORDINATED_FAULT_DELAY=POINT:SECONDS</c> prints a line and sleeps there (a slow disk, for signals mid-checkpoint).
/// <c>COORDINATED_FAULT_RANK=R</c> limits either to one rank. <c>COORDINATED_FAULT_STEP=S</c> to one step.
/// Points: created, state-written, closed, flushed, renamed, latest-written, restore-opened, step-boundary.
/// </summary>
internal static class FaultInjection
{
    private static readonly string? s_pause = Environment.GetEnvironmentVariable("COORDINATED_FAULT_PAUSE");
    private static readonly string? s_fail = Environment.GetEnvironmentVariable("COORDINATED_FAULT_FAIL");
    private static readonly string? s_delay = Environment.GetEnvironmentVariable("COORDINATED_FAULT_DELAY");
    private static readonly int? s_rank = int.TryParse(Environment.GetEnvironmentVariable("COORDINATED_FAULT_RANK"), out int r) ? r : null;
    private static readonly long? s_step = long.TryParse(Environment.GetEnvironmentVariable("COORDINATED_FAULT_STEP"), out long s) ? s : null;

    internal static void At(string point, int rank, long step)
    {
        if (s_pause is null && s_fail is null && s_delay is null)
        {
            return;
        }

        if ((s_rank is int onlyRank && onlyRank != rank) || (s_step is long onlyStep && onlyStep != step))
        {
            return;
        }

        if (s_pause == point)
        {
            Console.Error.WriteLine($"[coordinated-fault] paused at {point} on rank {rank}, step {step}");
            Console.Error.Flush();
            Thread.Sleep(Timeout.Infinite);
        }

        if (s_delay is not null && s_delay.StartsWith(point + ":", StringComparison.Ordinal)
            && double.TryParse(s_delay[(point.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture, out double seconds))
        {
            Console.Error.WriteLine($"[coordinated-fault] delaying {seconds} s at {point} on rank {rank}, step {step}");
            Console.Error.Flush();
            Thread.Sleep(TimeSpan.FromSeconds(seconds));
        }

        if (s_fail == point)
        {
            throw new IOException($"injected failure at {point} (COORDINATED_FAULT_FAIL)");
        }
    }
}

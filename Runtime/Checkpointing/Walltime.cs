using System.Diagnostics;
using System.Globalization;

namespace Coordinated.Checkpointing;

/// <summary>
/// The remaining wall time of the enclosing Slurm job, read from <c>squeue -h -j $SLURM_JOB_ID -o %e</c> on rank 0
/// and refreshed every few minutes (an administrator may extend the limit).
/// </summary>
internal static class Walltime
{
    private static readonly TimeSpan s_refresh = TimeSpan.FromMinutes(5);
    private static DateTime? s_end;
    private static DateTime s_lastQuery = DateTime.MinValue;
    private static bool s_disabled;

    internal static bool ShouldStop(double reserveSeconds)
    {
        if (reserveSeconds <= 0 || s_disabled)
        {
            return false;
        }

        string? job = Environment.GetEnvironmentVariable("SLURM_JOB_ID");
        if (string.IsNullOrEmpty(job))
        {
            s_disabled = true;
            return false;
        }

        if (DateTime.UtcNow - s_lastQuery > s_refresh)
        {
            s_lastQuery = DateTime.UtcNow;
            s_end = QueryEnd(job);
        }

        return s_end is DateTime end && (end - DateTime.UtcNow).TotalSeconds < reserveSeconds;
    }

    /// <summary>Seconds left in the job, or null when unknown or unlimited.</summary>
    internal static double? RemainingSeconds => s_end is DateTime end ? (end - DateTime.UtcNow).TotalSeconds : null;

    private static DateTime? QueryEnd(string job)
    {
        try
        {
            var start = new ProcessStartInfo("squeue", ["-h", "-j", job, "-o", "%e"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = Process.Start(start)!;
            string output = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            // squeue prints local time without a zone, e.g. 2026-11-22T10:15:00; "N/A" or "Unknown" without a limit.
            if (DateTime.TryParseExact(output, "yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.AssumeLocal, out DateTime local))
            {
                return local.ToUniversalTime();
            }

            return null;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            Console.Error.WriteLine($"[coordinated] warning: cannot read the job's time limit (squeue: {e.Message}); --walltime-reserve is off. Put Slurm's client tools on PATH to enable it.");
            s_disabled = true;
            return null;
        }
    }
}

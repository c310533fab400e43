using System.Diagnostics;
using System.Globalization;

namespace Coordinated.Slurm;

/// <summary>
/// The end time of the enclosing Slurm job (<c>squeue -h -j JOBID -o %e</c>), read on rank 0 by a background task,
/// never on the step path: the step agreement only reads the cached value. Each query has a timeout (a slow or hung
/// slurmctld cannot stall the ranks) and the value is re-read every few minutes, since
/// <c>scontrol update TimeLimit=</c> can change it. <c>COORDINATED_SLURM_REFRESH</c> and
/// <c>COORDINATED_SLURM_TIMEOUT</c> (seconds; defaults 300 and 10) change the two periods.
/// </summary>
internal sealed class JobEndTime : IDisposable
{
    private readonly string _jobId;
    private readonly TimeSpan _refresh;
    private readonly TimeSpan _timeout;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _reader;
    private long _endTicks; // DateTime.Ticks (UTC) of the end; 0 = unknown or unlimited

    private JobEndTime(string jobId, TimeSpan refresh, TimeSpan timeout)
    {
        _jobId = jobId;
        _refresh = refresh;
        _timeout = timeout;
        _reader = Task.Run(ReadLoop);
    }

    /// <summary>Starts reading the end time of the enclosing job; null outside a job. Local (rank 0 calls it).</summary>
    internal static JobEndTime? Start() =>
        SlurmJob.JobId is string id
            ? new JobEndTime(id, Seconds("COORDINATED_SLURM_REFRESH", 300), Seconds("COORDINATED_SLURM_TIMEOUT", 10))
            : null;

    /// <summary>Seconds left in the job by the last successful read; null while unknown or when unlimited. Never blocks.</summary>
    internal double? RemainingSeconds =>
        Interlocked.Read(ref _endTicks) is long ticks and > 0 ? (new DateTime(ticks, DateTimeKind.Utc) - DateTime.UtcNow).TotalSeconds : null;

    private async Task ReadLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            bool keepGoing = await QueryOnce().ConfigureAwait(false);
            if (!keepGoing)
            {
                return;
            }

            try
            {
                await Task.Delay(_refresh, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One squeue query with a timeout. False when squeue cannot be run at all (then the reserve is off).</summary>
    private async Task<bool> QueryOnce()
    {
        Process process;
        try
        {
            var start = new ProcessStartInfo("squeue", ["-h", "-j", _jobId, "-o", "%e"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            process = Process.Start(start)!;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            Warn($"cannot read the job's time limit (squeue: {e.Message}); --walltime-reserve is off. Put Slurm's client tools on PATH to enable it.");
            return false;
        }

        using (process)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            timeout.CancelAfter(_timeout);
            try
            {
                Task<string> output = process.StandardOutput.ReadToEndAsync(timeout.Token);
                _ = process.StandardError.ReadToEndAsync(timeout.Token);
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
                Update((await output.ConfigureAwait(false)).Trim());
            }
            catch (OperationCanceledException)
            {
                try
                {
                    process.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                }

                if (!_stop.IsCancellationRequested)
                {
                    Warn(string.Create(CultureInfo.InvariantCulture,
                        $"squeue did not answer within {_timeout.TotalSeconds:0.#} s (slurmctld busy?); keeping the last known end time of the job, next try in {_refresh.TotalSeconds:0.#} s"));
                }
            }
        }

        return true;
    }

    private void Update(string output)
    {
        // squeue prints local time without a zone, e.g. 2026-11-22T10:15:00; "N/A" or "Unknown" without a limit.
        long ticks = DateTime.TryParseExact(output, "yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.AssumeLocal, out DateTime local)
            ? local.ToUniversalTime().Ticks
            : 0;
        Interlocked.Exchange(ref _endTicks, ticks);
    }

    private static void Warn(string message)
    {
        Console.Error.WriteLine($"[coordinated] warning: {message}");
        Console.Error.Flush();
    }

    private static TimeSpan Seconds(string variable, double fallback) =>
        double.TryParse(Environment.GetEnvironmentVariable(variable), NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && s > 0
            ? TimeSpan.FromSeconds(s)
            : TimeSpan.FromSeconds(fallback);

    /// <summary>Stops the background reads (a query in flight is killed). Local.</summary>
    public void Dispose()
    {
        _stop.Cancel();
        try
        {
            _reader.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }

        _stop.Dispose();
    }
}

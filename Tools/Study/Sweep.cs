using System.Diagnostics;
using System.Globalization;

namespace Coordinated.Study;

/// <summary>One trial: a run of the fixed work at one interval, killed and restarted until it finished.</summary>
/// <param name="Interval">Compute seconds between checkpoints (--checkpoint-every-seconds).</param>
/// <param name="Trial">0-based; the failure times depend on (seed, trial) only.</param>
/// <param name="WorkSeconds">The failure-free reference run of this trial's round (same steps, no periodic checkpoints).</param>
/// <param name="MakespanSeconds">First launch to the exit of the run that finished, kills and restarts included.</param>
/// <param name="KillTimes">Seconds from each killed launch to its kill -9 (one per failure).</param>
/// <param name="CheckpointCosts">Costs of the periodic checkpoints committed over all launches (metrics.jsonl; not the final one).</param>
/// <param name="RestartTimes">Launch to the first step of each relaunch that got that far.</param>
internal sealed record TrialResult(
    double Interval, int Trial, double WorkSeconds, double MakespanSeconds, IReadOnlyList<double> KillTimes,
    IReadOnlyList<double> CheckpointCosts, IReadOnlyList<double> RestartTimes)
{
    public int Failures => KillTimes.Count;

    /// <summary>(makespan - work) / makespan.</summary>
    public double Waste => (MakespanSeconds - WorkSeconds) / MakespanSeconds;
}

/// <summary>
/// Runs every (interval, trial) pair. Trials are outermost: round k runs a failure-free reference, then trial k at
/// every interval, so a change in the machine's load hits the reference and all intervals of a round alike.
/// </summary>
internal sealed class Sweep(NBodyRunner runner, Measurements measured, Progress progress)
{
    public List<TrialResult> Run(IReadOnlyList<double> intervals)
    {
        var settings = runner.Settings;
        var results = new List<TrialResult>();
        int total = intervals.Count * settings.Trials, done = 0;
        for (int trial = 0; trial < settings.Trials; trial++)
        {
            double work = runner.Baseline($"reference-trial-{trial + 1}", measured.Steps);
            progress.Say(string.Create(CultureInfo.InvariantCulture,
                $"trial {trial + 1}/{settings.Trials}: failure-free reference {work:F1} s ({measured.Steps} steps, no periodic checkpoints)"));
            for (int i = 0; i < intervals.Count; i++)
            {
                done++;
                string label = string.Create(CultureInfo.InvariantCulture,
                    $"run {done}/{total}: interval {intervals[i]:0.###} s ({i + 1}/{intervals.Count}), trial {trial + 1}/{settings.Trials}");
                TrialResult result = RunTrial(intervals[i], trial, work, label);
                progress.Say(string.Create(CultureInfo.InvariantCulture,
                    $"{label}: done in {result.MakespanSeconds:F1} s, {result.Failures} failure(s), {result.CheckpointCosts.Count} checkpoint(s), waste {result.Waste:P1}"));
                results.Add(result);
            }
        }

        return results;
    }

    private TrialResult RunTrial(double interval, int trial, double work, string label)
    {
        var settings = runner.Settings;
        string directory = runner.FreshDirectory(string.Create(CultureInfo.InvariantCulture, $"interval-{interval:0.###}-trial-{trial + 1}"));
        var schedule = new FailureSchedule(settings.MtbfSeconds, settings.Seed, trial);
        var kills = new List<double>();
        var restarts = new List<double>();
        double limit = Math.Max(120, 25 * work);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            double failureAt = schedule.Next();
            using MpiJob job = runner.LaunchTrial(directory, measured.Steps, interval);
            bool exited = job.WaitForExit(TimeSpan.FromSeconds(failureAt));
            if (!exited)
            {
                job.KillNine();
            }

            if (kills.Count > 0 && NBodyRunner.FirstStepSeconds(job) is double restart)
            {
                restarts.Add(restart);
            }

            if (exited)
            {
                if (job.ExitCode != ExitCodes.Success)
                {
                    throw new StudyException($"{label}: NBody exited with {job.ExitCode} after {kills.Count} failure(s):\n{job.Output}");
                }

                break;
            }

            kills.Add(failureAt);
            progress.Say(string.Create(CultureInfo.InvariantCulture,
                $"{label}: kill -9 at {failureAt:F1} s into launch {kills.Count}; {kills.Count} failure(s) so far, elapsed {clock.Elapsed.TotalSeconds:F1} s; restarting"));
            if (clock.Elapsed.TotalSeconds > limit)
            {
                throw new StudyException(string.Create(CultureInfo.InvariantCulture,
                    $"{label}: not finished after {limit:F0} s and {kills.Count} failures; M = {settings.MtbfSeconds} s is too short for a restart cost of {measured.RestartSeconds:F2} s"));
            }
        }

        double makespan = clock.Elapsed.TotalSeconds;
        var costs = Metrics.Read(Path.Combine(directory, "metrics.jsonl")).Checkpoints("every-seconds");
        foreach (string snapshot in Directory.EnumerateFiles(directory, "*.h5"))
        {
            File.Delete(snapshot); // metrics.jsonl stays; the snapshots are only disk space now
        }

        return new TrialResult(interval, trial, work, makespan, kills, costs, restarts);
    }
}

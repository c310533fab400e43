using System.Diagnostics;
using System.Globalization;

namespace Coordinated.Study;

/// <summary>One trial: a run of the fixed work at one interval, killed and restarted until it finished.</summary>
/// <param name="Interval">Compute seconds between checkpoints (--checkpoint-every-seconds).</param>
/// <param name="Trial">0-based; the failure times depend on (seed, trial) only.</param>
/// <param name="WorkSeconds">
/// The failure-free time of the fixed work, measured inside this trial: one start-up, the compute time of the steps
/// that made it into the result (between the first step of a launch and its last commit, or its exit, less the
/// periodic checkpoints in between), the final snapshot and the exit. Measured in the trial itself, so a change in the
/// machine's load slows work and waste alike.
/// </param>
/// <param name="ReferenceSeconds">The failure-free reference run of this trial's round (same steps, no periodic checkpoints, launch to exit).</param>
/// <param name="MakespanSeconds">First launch to the exit of the run that finished, kills and restarts included.</param>
/// <param name="KillTimes">Seconds from each killed launch to its kill -9 (one per failure).</param>
/// <param name="CheckpointCosts">Costs of the periodic checkpoints committed over all launches (not the final one).</param>
/// <param name="RestartTimes">Launch to the first step of each relaunch that got that far.</param>
internal sealed record TrialResult(
    double Interval, int Trial, double WorkSeconds, double ReferenceSeconds, double MakespanSeconds, IReadOnlyList<double> KillTimes,
    IReadOnlyList<double> CheckpointCosts, IReadOnlyList<double> RestartTimes)
{
    public int Failures => KillTimes.Count;

    /// <summary>(makespan - work) / makespan: the fraction of the wall time spent on checkpoints, restarts and lost work.</summary>
    public double Waste => (MakespanSeconds - WorkSeconds) / MakespanSeconds;
}

/// <summary>
/// Runs every (interval, trial) pair. Trials are outermost: round k runs a failure-free reference, then trial k at
/// every interval.
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
            double reference = runner.Baseline($"reference-trial-{trial + 1}", measured.Steps);
            progress.Say(string.Create(CultureInfo.InvariantCulture,
                $"trial {trial + 1}/{settings.Trials}: failure-free reference {reference:F1} s ({measured.Steps} steps, no periodic checkpoints)"));
            for (int i = 0; i < intervals.Count; i++)
            {
                done++;
                string label = string.Create(CultureInfo.InvariantCulture,
                    $"run {done}/{total}: interval {intervals[i]:0.###} s ({i + 1}/{intervals.Count}), trial {trial + 1}/{settings.Trials}");
                TrialResult result = RunTrial(intervals[i], trial, reference, label);
                progress.Say(string.Create(CultureInfo.InvariantCulture,
                    $"{label}: done in {result.MakespanSeconds:F1} s, {result.Failures} failure(s), {result.CheckpointCosts.Count} checkpoint(s), work {result.WorkSeconds:F1} s, waste {result.Waste:P1}"));
                results.Add(result);
            }
        }

        return results;
    }

    private TrialResult RunTrial(double interval, int trial, double reference, string label)
    {
        var settings = runner.Settings;
        string directory = runner.FreshDirectory(string.Create(CultureInfo.InvariantCulture, $"interval-{interval:0.###}-trial-{trial + 1}"));
        var schedule = new FailureSchedule(settings.MtbfSeconds, settings.Seed, trial);
        var kills = new List<double>();
        var restarts = new List<double>();
        var costs = new List<double>();
        double? startup = null; // the one start-up that belongs to the work: the first launch that got to its first step
        double kept = 0;        // compute time of the steps that made it into the result, and the final snapshot and exit
        double limit = Math.Max(120, 25 * reference);
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

            if (exited && job.ExitCode != ExitCodes.Success)
            {
                throw new StudyException($"{label}: NBody exited with {job.ExitCode} after {kills.Count} failure(s):\n{job.Output}");
            }

            double? firstStep = NBodyRunner.FirstStepSeconds(job);
            var checkpoints = NBodyRunner.Checkpoints(job, directory);
            costs.AddRange(checkpoints.Where(c => c.Trigger == "every-seconds").Select(c => c.Cost));
            if (kills.Count > 0 && firstStep is double restart && NBodyRunner.StartStep(job) > 0)
            {
                restarts.Add(restart);
            }

            if (firstStep is double first)
            {
                startup ??= first;

                // What this launch kept: up to its exit, or for a killed one up to its last commit (the rest is lost).
                double? keptUntil = exited ? job.ExitSeconds : checkpoints.Count > 0 ? checkpoints[^1].Seconds : null;
                if (keptUntil is double until)
                {
                    double periodic = checkpoints.Where(c => c.Seconds <= until && c.Trigger != "final").Sum(c => c.Cost);
                    kept += Math.Max(0, until - first - periodic);
                }
            }
            else if (exited)
            {
                throw new StudyException($"{label}: NBody finished without printing its first line:\n{job.Output}");
            }

            if (exited)
            {
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
        foreach (string snapshot in Directory.EnumerateFiles(directory, "*.h5"))
        {
            File.Delete(snapshot); // metrics.jsonl stays; the snapshots are only disk space now
        }

        return new TrialResult(interval, trial, startup!.Value + kept, reference, makespan, kills, costs, restarts);
    }
}

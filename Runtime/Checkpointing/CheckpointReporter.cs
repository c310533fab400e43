namespace Coordinated.Checkpointing;

/// <summary>
/// Turns what the commit protocol and restart did into the run's record of it: the progress line on rank 0,
/// the <see cref="CheckpointReport"/>, the measured cost for the automatic interval, and the typed events of
/// <c>metrics.jsonl</c> (<see cref="MetricsEvent"/>). Local (no communication).
/// </summary>
internal sealed class CheckpointReporter(string app, CheckpointOptions options, RuntimeLog log, IntervalPolicy interval, MetricsLog? metrics)
{
    /// <summary>Records, logs and reports a finished write-and-commit. Local (no communication).</summary>
    internal CheckpointReport? Finish(CommitOutcome outcome, int ranks, out string? failure)
    {
        long step = outcome.Step;
        string trigger = Triggers.Name(outcome.Trigger);
        failure = outcome.Failure;
        if (failure is not null)
        {
            metrics?.Append(new CheckpointFailedEvent
            {
                TimeUtc = DateTime.UtcNow, App = app, Step = step, Trigger = trigger, Async = outcome.StageSeconds is not null, Error = failure,
                Level = outcome.Level,
            });
            return null;
        }

        string name = outcome.File is string local ? Path.GetFileName(local) : CheckpointDirectory.CommittedName(step);
        var timings = outcome.Timings;
        var report = new CheckpointReport(
            step, trigger, name, timings.Bytes, ranks, outcome.AgreeSeconds, timings.WriteSeconds, timings.FlushSeconds,
            outcome.CommitSeconds, outcome.TotalSeconds)
        {
            StageSeconds = outcome.StageSeconds,
            Level = outcome.Level,
        };
        interval.Observe(report.TotalSeconds);

        string removed = outcome.Removed.Count > 0 ? $"; removed {string.Join(", ", outcome.Removed)}" : "";
        if (outcome.Level != "global")
        {
            log.Info($"checkpoint of step {step} ({trigger}) committed ({outcome.Level}) in {report.TotalSeconds:F3} s: {RuntimeLog.FormatBytes(report.Bytes)} " +
                $"(agree {outcome.AgreeSeconds:F4}, checksums + exchange + write {timings.WriteSeconds:F3}, flush {timings.FlushSeconds:F3}, commit {outcome.CommitSeconds:F3}) -> {outcome.File}{removed}");
        }
        else
        {
            string mode = outcome.StageSeconds is double staged ? $", async: staged in {staged:F4} s, then" : ":";
            log.Info($"checkpoint step {step} ({trigger}){mode} {RuntimeLog.FormatBytes(report.Bytes)} in {report.TotalSeconds:F3} s " +
                $"(agree {outcome.AgreeSeconds:F4}, write {timings.WriteSeconds:F3}, flush {timings.FlushSeconds:F3}, commit {outcome.CommitSeconds:F3}) -> {name} (global){removed}");
        }

        if (options.AutoInterval && interval.CurrentIntervalSeconds is double next)
        {
            log.Info($"auto interval: {interval.Explain()}; next checkpoint in {next:F1} s");
        }

        metrics?.Append(new CheckpointEvent
        {
            TimeUtc = DateTime.UtcNow, App = app, Step = step, Trigger = trigger, Ranks = ranks, Bytes = report.Bytes,
            AgreeSeconds = MetricsLog.Seconds(report.AgreeSeconds), StageSeconds = report.StageSeconds is double s ? MetricsLog.Seconds(s) : null,
            WriteSeconds = MetricsLog.Seconds(report.WriteSeconds), FlushSeconds = MetricsLog.Seconds(report.FlushSeconds),
            CommitSeconds = MetricsLog.Seconds(report.CommitSeconds), TotalSeconds = MetricsLog.Seconds(report.TotalSeconds),
            File = name, Level = outcome.Level, IntervalSeconds = interval.CurrentIntervalSeconds,
        });
        return report;
    }

    /// <summary>Records a restart from <paramref name="result"/>.</summary>
    internal void Restarted(SnapshotReader.ReadOutcome outcome, Recovery.Result result, int restartCount, int ranks) =>
        metrics?.Append(new RestartEvent
        {
            TimeUtc = DateTime.UtcNow, App = app, Step = outcome.Step, RestartCount = restartCount, Ranks = ranks,
            WriterRanks = outcome.WriterRanks, Bytes = outcome.Bytes, ReadSeconds = MetricsLog.Seconds(outcome.ReadSeconds),
            VerifySeconds = MetricsLog.Seconds(outcome.VerifySeconds), TotalSeconds = MetricsLog.Seconds(result.Seconds),
            File = result.Name!, Skipped = result.Skipped, Level = result.Level,
        });
}

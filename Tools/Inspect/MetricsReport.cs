using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Coordinated.Inspect;

/// <summary>Median, 95th percentile and maximum of some durations (seconds).</summary>
internal sealed record Stats(int Count, double Median, double P95, double Max)
{
    internal static Stats? Of(IEnumerable<double> values)
    {
        var sorted = values.Where(double.IsFinite).Order().ToArray();
        return sorted.Length == 0 ? null : new Stats(sorted.Length, Quantile(sorted, 0.5), Quantile(sorted, 0.95), sorted[^1]);
    }

    /// <summary>Linear interpolation between closest ranks (numpy's default), on sorted data.</summary>
    internal static double Quantile(double[] sorted, double q)
    {
        double position = q * (sorted.Length - 1);
        int low = (int)Math.Floor(position);
        int high = Math.Min(low + 1, sorted.Length - 1);
        return sorted[low] + ((position - low) * (sorted[high] - sorted[low]));
    }
}

/// <summary>One metrics.jsonl event that inspect uses.</summary>
/// <param name="Event">checkpoint, checkpoint_failed or restart.</param>
/// <param name="Time">When it was logged.</param>
/// <param name="Trigger">What triggered a checkpoint.</param>
/// <param name="Step">Step.</param>
/// <param name="TotalSeconds">Checkpoint or restart cost.</param>
/// <param name="AgreeSeconds">Step agreement part of a checkpoint.</param>
/// <param name="Bytes">Bytes written or read.</param>
internal sealed record MetricsEvent(string Event, DateTime Time, string? Trigger, long? Step, double? TotalSeconds, double? AgreeSeconds, long? Bytes);

/// <summary>The summary of <c>inspect metrics DIR</c>.</summary>
internal sealed record MetricsReport
{
    public required string File { get; init; }

    public int Checkpoints { get; init; }

    [JsonPropertyName("failed_checkpoints")]
    public int FailedCheckpoints { get; init; }

    public int Restarts { get; init; }

    [JsonPropertyName("checkpoint_cost_by_trigger")]
    public required IReadOnlyDictionary<string, Stats> CheckpointCostByTrigger { get; init; }

    [JsonPropertyName("checkpoint_cost")]
    public Stats? CheckpointCost { get; init; }

    [JsonPropertyName("agreement_cost")]
    public Stats? AgreementCost { get; init; }

    [JsonPropertyName("restart_cost")]
    public Stats? RestartCost { get; init; }

    /// <summary>Seconds between consecutive checkpoints of one run (not across a restart).</summary>
    public Stats? Interval { get; init; }

    [JsonPropertyName("unreadable_lines")]
    public int UnreadableLines { get; init; }

    [JsonIgnore]
    internal IReadOnlyList<MetricsEvent> Events { get; init; } = [];

    /// <summary>Reads <paramref name="path"/> (metrics.jsonl); lines it cannot parse are counted, not fatal.</summary>
    internal static MetricsReport Read(string path)
    {
        var events = new List<MetricsEvent>();
        int bad = 0;
        foreach (string line in System.IO.File.ReadLines(path))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            try
            {
                using var doc = JsonDocument.Parse(line);
                JsonElement e = doc.RootElement;
                string? kind = Str(e, "event");
                if (kind is null || !DateTime.TryParse(Str(e, "time_utc"), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out DateTime time))
                {
                    bad++;
                    continue;
                }

                events.Add(new MetricsEvent(kind, time, Str(e, "trigger"), (long?)Num(e, "step"), Num(e, "total_s"), Num(e, "agree_s"), (long?)Num(e, "bytes")));
            }
            catch (JsonException)
            {
                bad++;
            }
        }

        var checkpoints = events.Where(e => e.Event == "checkpoint").ToList();
        var intervals = new List<double>();
        MetricsEvent? previous = null;
        foreach (MetricsEvent e in events)
        {
            if (e.Event == "restart")
            {
                previous = null;
            }
            else if (e.Event == "checkpoint")
            {
                if (previous is not null)
                {
                    intervals.Add((e.Time - previous.Time).TotalSeconds);
                }

                previous = e;
            }
        }

        return new MetricsReport
        {
            File = path,
            Checkpoints = checkpoints.Count,
            FailedCheckpoints = events.Count(e => e.Event == "checkpoint_failed"),
            Restarts = events.Count(e => e.Event == "restart"),
            CheckpointCostByTrigger = checkpoints.GroupBy(e => e.Trigger ?? "?").OrderBy(g => g.Key, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => Stats.Of(g.Select(e => e.TotalSeconds ?? double.NaN))!),
            CheckpointCost = Stats.Of(checkpoints.Select(e => e.TotalSeconds ?? double.NaN)),
            AgreementCost = Stats.Of(checkpoints.Select(e => e.AgreeSeconds ?? double.NaN)),
            RestartCost = Stats.Of(events.Where(e => e.Event == "restart").Select(e => e.TotalSeconds ?? double.NaN)),
            Interval = Stats.Of(intervals),
            UnreadableLines = bad,
            Events = events,
        };
    }

    /// <summary>Checkpoint cost over the run (one series per trigger), restarts as vertical lines, as a PNG.</summary>
    internal void Plot(string png)
    {
        var plot = new ScottPlot.Plot();
        DateTime start = Events.Count > 0 ? Events.Min(e => e.Time) : DateTime.UnixEpoch;
        foreach (var group in Events.Where(e => e.Event == "checkpoint" && e.TotalSeconds is not null).GroupBy(e => e.Trigger ?? "?").OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            double[] xs = group.Select(e => (e.Time - start).TotalSeconds).ToArray();
            double[] ys = group.Select(e => e.TotalSeconds!.Value).ToArray();
            var scatter = plot.Add.Scatter(xs, ys);
            scatter.LegendText = group.Key;
            scatter.LineWidth = 0;
            scatter.MarkerSize = 7;
        }

        bool first = true;
        foreach (MetricsEvent restart in Events.Where(e => e.Event == "restart"))
        {
            var line = plot.Add.VerticalLine((restart.Time - start).TotalSeconds);
            line.LinePattern = ScottPlot.LinePattern.Dashed;
            line.Color = ScottPlot.Colors.Gray;
            if (first)
            {
                line.LegendText = "restart";
                first = false;
            }
        }

        plot.Title($"Checkpoint cost over the run ({Checkpoints} checkpoint(s), {Restarts} restart(s))");
        plot.XLabel("seconds since the first event in metrics.jsonl");
        plot.YLabel("checkpoint cost (s)");
        plot.Axes.SetLimitsY(0, Math.Max(1e-3, (CheckpointCost?.Max ?? 0) * 1.15));
        plot.ShowLegend();
        plot.SavePng(png, 900, 500);
    }

    private static string? Str(JsonElement e, string name) => e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static double? Num(JsonElement e, string name) => e.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;
}

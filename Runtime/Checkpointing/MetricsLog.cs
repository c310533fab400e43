using System.Text;
using System.Text.Json;

namespace Coordinated.Checkpointing;

/// <summary>
/// <c>metrics.jsonl</c> in the checkpoint directory: one <see cref="MetricsEvent"/> per line, appended by rank 0.
/// Failures to append never stop a run.
/// </summary>
public sealed class MetricsLog
{
    // "local+partner" stays readable in the file (the default encoder writes '+' as \u002B).
    private static readonly MetricsJsonContext s_writer = new(new System.Text.Json.JsonSerializerOptions(MetricsJsonContext.Default.Options)
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    private readonly string _path;

    internal MetricsLog(string path)
    {
        _path = path;
    }

    /// <summary>Reads every event of a metrics file, in order; a line cut short (a kill -9) or of an unknown kind is skipped.</summary>
    public static IReadOnlyList<MetricsEvent> Read(string path)
    {
        var events = new List<MetricsEvent>();
        if (!File.Exists(path))
        {
            return events;
        }

        foreach (string line in File.ReadLines(path))
        {
            try
            {
                if (JsonSerializer.Deserialize(line, MetricsJsonContext.Default.MetricsEvent) is MetricsEvent e)
                {
                    events.Add(e);
                }
            }
            catch (Exception e) when (e is JsonException or NotSupportedException)
            {
            }
        }

        return events;
    }

    /// <summary>Appends one event as one line. Local (rank 0).</summary>
    internal void Append(MetricsEvent metricsEvent)
    {
        byte[] line = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(metricsEvent, s_writer.MetricsEvent) + "\n");
        try
        {
            using var stream = new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
            stream.Write(line);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"[coordinated] warning: could not append to {_path}: {e.Message}");
        }
    }

    /// <summary>Seconds rounded to the microsecond, as the file stores them.</summary>
    internal static double Seconds(double seconds) => Math.Round(seconds, 6);
}

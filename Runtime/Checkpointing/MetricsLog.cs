using System.Text;
using System.Text.Json;

namespace Coordinated.Checkpointing;

/// <summary>Appends one JSON object per line to <c>metrics.jsonl</c> (rank 0 only). Failures to log never stop a run.</summary>
internal sealed class MetricsLog(string path)
{
    internal void Append(IReadOnlyDictionary<string, object?> fields)
    {
        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            foreach (var (key, value) in fields)
            {
                json.WritePropertyName(key);
                switch (value)
                {
                    case null: json.WriteNullValue(); break;
                    case string s: json.WriteStringValue(s); break;
                    case long l: json.WriteNumberValue(l); break;
                    case int i: json.WriteNumberValue(i); break;
                    case double d when double.IsFinite(d): json.WriteNumberValue(Math.Round(d, 6)); break;
                    case double: json.WriteNullValue(); break;
                    case string[] list:
                        json.WriteStartArray();
                        foreach (string item in list)
                        {
                            json.WriteStringValue(item);
                        }

                        json.WriteEndArray();
                        break;
                    default: json.WriteStringValue(value.ToString()); break;
                }
            }

            json.WriteEndObject();
        }

        buffer.WriteByte((byte)'\n');
        try
        {
            using var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
            stream.Write(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"[coordinated] warning: could not append to {path}: {e.Message}");
        }
    }
}

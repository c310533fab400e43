using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Spectre.Console;

namespace Coordinated.Inspect;

/// <summary>
/// Where inspect writes: tables with colour (Spectre.Console) on a terminal, plain space-aligned columns without any
/// escape sequence when stdout is redirected (a file, a pipe, a test), so the output can be grepped and diffed.
/// </summary>
internal sealed class Output
{
    private readonly TextWriter _writer;
    private readonly IAnsiConsole? _console;

    internal Output(TextWriter writer, bool terminal)
    {
        _writer = writer;
        _console = terminal ? AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) }) : null;
    }

    /// <summary>Stdout, with colour only when it is a terminal and NO_COLOR is not set.</summary>
    internal static Output Standard() =>
        new(Console.Out, !Console.IsOutputRedirected && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR")));

    internal static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    internal void Line(string text = "") => _writer.WriteLine(text);

    /// <summary>A line whose <paramref name="mark"/> part is coloured on a terminal (green good, red bad, yellow note).</summary>
    internal void Marked(string prefix, string mark, Tone tone, string rest = "")
    {
        if (_console is null)
        {
            _writer.WriteLine(prefix + mark + rest);
            return;
        }

        _console.MarkupLine(Markup.Escape(prefix) + $"[{Colour(tone)}]{Markup.Escape(mark)}[/]" + Markup.Escape(rest));
    }

    internal void Heading(string text)
    {
        if (_console is null)
        {
            _writer.WriteLine(text);
        }
        else
        {
            _console.MarkupLine($"[bold]{Markup.Escape(text)}[/]");
        }
    }

    /// <summary>A table; a cell may carry a tone that colours it on a terminal.</summary>
    internal void Table(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<(string Text, Tone Tone)>> rows, ISet<int>? rightAligned = null)
    {
        var all = rows.ToList();
        if (_console is not null)
        {
            var table = new Table().Border(TableBorder.Minimal);
            for (int c = 0; c < headers.Count; c++)
            {
                var column = new TableColumn(Markup.Escape(headers[c])).NoWrap();
                if (rightAligned?.Contains(c) == true)
                {
                    column.RightAligned();
                }

                table.AddColumn(column);
            }

            foreach (var row in all)
            {
                table.AddRow(row.Select(cell => cell.Tone == Tone.Plain ? Markup.Escape(cell.Text) : $"[{Colour(cell.Tone)}]{Markup.Escape(cell.Text)}[/]").ToArray());
            }

            _console.Write(table);
            return;
        }

        var widths = headers.Select((h, c) => Math.Max(h.Length, all.Count == 0 ? 0 : all.Max(r => r[c].Text.Length))).ToArray();
        string Format(IReadOnlyList<string> cells)
        {
            var line = new StringBuilder();
            for (int c = 0; c < cells.Count; c++)
            {
                string text = rightAligned?.Contains(c) == true ? cells[c].PadLeft(widths[c]) : cells[c].PadRight(widths[c]);
                line.Append(text).Append(c + 1 < cells.Count ? "  " : "");
            }

            return line.ToString().TrimEnd();
        }

        _writer.WriteLine(Format(headers));
        foreach (var row in all)
        {
            _writer.WriteLine(Format(row.Select(c => c.Text).ToList()));
        }
    }

    internal void WriteJson<T>(T value) => _writer.WriteLine(JsonSerializer.Serialize(value, Json));

    private static string Colour(Tone tone) => tone switch
    {
        Tone.Good => "green",
        Tone.Bad => "red",
        Tone.Note => "yellow",
        _ => "default",
    };
}

/// <summary>How a cell or mark is coloured on a terminal.</summary>
internal enum Tone
{
    Plain,
    Good,
    Bad,
    Note,
}

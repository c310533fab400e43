using System.Diagnostics;

namespace Coordinated.Study;

/// <summary>Progress lines on stderr, each stamped with the time since the study started (stdout keeps the summary).</summary>
internal sealed class Progress(TextWriter output)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public TimeSpan Elapsed => _clock.Elapsed;

    public void Say(string message)
    {
        var t = _clock.Elapsed;
        output.WriteLine($"[{(int)t.TotalMinutes,2}:{t.Seconds:00}] {message}");
        output.Flush();
    }
}

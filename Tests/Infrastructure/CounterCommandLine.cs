using System.Globalization;

namespace Coordinated.Tests.Infrastructure;

/// <summary>The Counter command line the runtime tests share (<c>using static</c> it, then call <see cref="Args"/>).</summary>
internal static class CounterCommandLine
{
    /// <summary>
    /// Counter to step <paramref name="to"/>, sleeping <paramref name="stepSeconds"/> a step, checkpointing to
    /// <c>DIR/ckpt</c>, progress on every step; then <paramref name="more"/>.
    /// </summary>
    internal static string[] Args(TempDir dir, long to, double stepSeconds, params string[] more) =>
        ["--to", to.ToString(CultureInfo.InvariantCulture), "--step-seconds", stepSeconds.ToString(CultureInfo.InvariantCulture),
         "--checkpoint-dir", dir["ckpt"], "--report-every", "1", .. more];
}

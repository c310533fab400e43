namespace Coordinated.Study;

/// <summary>
/// The first-order model of the fraction of a run's wall time that is not useful work, for checkpoints every
/// <c>tau</c> seconds of compute, checkpoint cost C, restart cost R and exponentially distributed failures with mean M.
/// </summary>
/// <remarks>
/// A period is P = tau + C. Without failures a fraction C/P of the time goes to checkpoints. Each failure (on
/// average one every M seconds of wall time) costs the restart R plus the work since the last checkpoint, P/2 on
/// average. With T the makespan and W the failure-free work: T (1 - (R + P/2)/M) = W P / tau, so
/// <code>waste = (T - W) / T = 1 - (tau / P) (1 - (R + P/2) / M)</code>
/// (the form used in Hérault and Robert (eds.), "Fault-Tolerance Techniques for High-Performance Computing", 2015).
/// When R + P/2 reaches M the run never finishes in this model and the waste is 1.
/// </remarks>
internal static class WasteModel
{
    public static double Waste(double tau, double cost, double restart, double mtbf)
    {
        double period = tau + cost;
        double failureLoss = (restart + (period / 2)) / mtbf;
        return failureLoss >= 1 ? 1 : 1 - (tau / period * (1 - failureLoss));
    }

    /// <summary><paramref name="count"/> points spaced evenly on a log scale from <paramref name="from"/> to <paramref name="to"/>.</summary>
    public static double[] LogGrid(double from, double to, int count) =>
        [.. Enumerable.Range(0, count).Select(i => from * Math.Pow(to / from, i / (double)(count - 1)))];

    /// <summary>The interval with the least model waste on a fine grid between <paramref name="from"/> and <paramref name="to"/>.</summary>
    public static double Optimum(double cost, double restart, double mtbf, double from, double to) =>
        LogGrid(from, to, 4001).MinBy(tau => Waste(tau, cost, restart, mtbf));
}

using System.Globalization;

namespace Coordinated.Checkpointing;

/// <summary>
/// The wall-clock checkpoint interval: fixed (--checkpoint-every-seconds) or chosen from Daly's formula with the
/// measured checkpoint cost (--checkpoint-interval auto --mtbf M). Decided on rank 0 only.
/// </summary>
internal sealed class IntervalPolicy(CheckpointOptions options)
{
    /// <summary>Cost assumed before the first checkpoint is measured.</summary>
    internal const double InitialCostGuessSeconds = 1.0;

    private readonly List<double> _costs = [];

    internal double? CurrentIntervalSeconds =>
        options.AutoInterval ? OptimalInterval.Daly(MeasuredCost ?? InitialCostGuessSeconds, options.MtbfSeconds)
        : options.EverySeconds > 0 ? options.EverySeconds
        : null;

    /// <summary>Mean of the last (up to) five measured checkpoint costs.</summary>
    internal double? MeasuredCost => _costs.Count == 0 ? null : _costs.TakeLast(5).Average();

    internal void Observe(double checkpointSeconds) => _costs.Add(checkpointSeconds);

    /// <summary>Why the current interval is what it is: the cost it used (guessed or measured), M, Daly's and Young's values.</summary>
    internal string Explain()
    {
        double cost = MeasuredCost ?? InitialCostGuessSeconds;
        string source = _costs.Count == 0 ? "initial guess, nothing measured yet" : $"mean of last {Math.Min(5, _costs.Count)} measured";
        return string.Create(CultureInfo.InvariantCulture,
            $"Daly's interval for checkpoint cost C = {cost:F3} s ({source}) and MTBF M = {options.MtbfSeconds:0.###} s is {CurrentIntervalSeconds:F1} s (Young's sqrt(2CM) = {OptimalInterval.Young(cost, options.MtbfSeconds):F1} s)");
    }
}

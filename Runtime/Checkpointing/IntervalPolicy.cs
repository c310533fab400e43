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
        options.AutoInterval ? Daly(MeasuredCost ?? InitialCostGuessSeconds, options.MtbfSeconds)
        : options.EverySeconds > 0 ? options.EverySeconds
        : null;

    /// <summary>Mean of the last (up to) five measured checkpoint costs.</summary>
    internal double? MeasuredCost => _costs.Count == 0 ? null : _costs.TakeLast(5).Average();

    internal void Observe(double checkpointSeconds) => _costs.Add(checkpointSeconds);

    internal string Explain() => string.Create(CultureInfo.InvariantCulture,
        $"Daly's interval for checkpoint cost C = {MeasuredCost ?? InitialCostGuessSeconds:F3} s ({(_costs.Count == 0 ? "initial guess" : $"mean of last {Math.Min(5, _costs.Count)} measured")}) and MTBF M = {options.MtbfSeconds:F0} s is {CurrentIntervalSeconds:F1} s (Young's sqrt(2CM) = {Young(MeasuredCost ?? InitialCostGuessSeconds, options.MtbfSeconds):F1} s)");

    /// <summary>Young (1974): sqrt(2 C M).</summary>
    public static double Young(double cost, double mtbf) => Math.Sqrt(2 * cost * mtbf);

    /// <summary>Daly (2006), the higher-order estimate of the optimum compute time between checkpoints.</summary>
    public static double Daly(double cost, double mtbf)
    {
        if (cost >= 2 * mtbf)
        {
            return mtbf;
        }

        double ratio = cost / (2 * mtbf);
        return (Math.Sqrt(2 * cost * mtbf) * (1 + (Math.Sqrt(ratio) / 3) + (ratio / 9))) - cost;
    }
}

namespace Coordinated.Checkpointing;

/// <summary>
/// The classic estimates of the checkpoint interval that minimises expected run time under failures, as compute time
/// between two checkpoints, from the checkpoint cost C and the mean time between failures M (both in seconds).
/// </summary>
public static class OptimalInterval
{
    /// <summary>Young (1974): sqrt(2 C M).</summary>
    public static double Young(double cost, double mtbf) => Math.Sqrt(2 * cost * mtbf);

    /// <summary>
    /// Daly (2006), the higher-order estimate: sqrt(2 C M) [1 + (1/3) sqrt(C/(2M)) + (1/9) C/(2M)] - C for C &lt; 2M,
    /// else M.
    /// </summary>
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

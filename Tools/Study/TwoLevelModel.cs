using Coordinated.Checkpointing;

namespace Coordinated.Study;

/// <summary>What a level costs: a checkpoint (seconds the application waits) and a restart (launch to first step).</summary>
/// <param name="Checkpoint">C of one checkpoint of the level.</param>
/// <param name="Restart">R of a restart from the level.</param>
internal readonly record struct LevelCost(double Checkpoint, double Restart);

/// <summary>
/// The expected waste of periodic checkpointing with two levels under exponential failures, in the manner of the
/// Markov model of Moody, Bronevetsky, Mohror and de Supinski, "Design, Modeling, and Evaluation of a Scalable
/// Multi-level Checkpointing System" (SC10): the run is a repeating pattern of K segments, each tau seconds of
/// compute followed by a checkpoint; the first K - 1 checkpoints are level 1 (local + partner, cost C1), the K-th is
/// level 2 (global, cost C2). Failures come at rate 1/M; a fraction q of them (two neighbouring nodes lost) can only be
/// recovered from level 2, the others from level 1. A failure rolls back to the newest checkpoint of a level that can
/// recover it and pays that level's restart R1 or R2; failures may also strike during a checkpoint or a restart.
/// </summary>
/// <remarks>
/// As in the SC10 model, each segment of length T either ends without a failure, with probability e^(-T/M), or is
/// cut short by one, on average t(T) = M - T e^(-T/M) / (1 - e^(-T/M)) into it; a restart of length R takes
/// (e^(R/M) - 1) M on average including restarts of the restart. The expected time from the start of segment j to the
/// end of the pattern, E_j, satisfies a linear system; it is solved exactly (E_j is linear in E_0, solved backwards
/// from E_K = 0). The waste is 1 - K tau / E_0. With K = 1, q = 1 and (C2, R2) = (C, R) it is the single-level
/// exact expression 1 - tau / (M e^(R/M) (e^((tau + C)/M) - 1)), whose optimum Daly's formula approximates.
/// The optimum (tau, K) is found by search, as in the paper (no closed form).
/// </remarks>
internal static class TwoLevelModel
{
    /// <summary>The largest K searched.</summary>
    public const int MaxGlobalEvery = 64;

    /// <summary>Expected fraction of the wall time that is not useful work.</summary>
    /// <param name="tau">Compute seconds between two checkpoints.</param>
    /// <param name="globalEvery">K: every K-th checkpoint is global (1: every checkpoint is).</param>
    /// <param name="local">Level 1 (local + partner) costs; unused when <paramref name="doubleFraction"/> is 1 and K is 1.</param>
    /// <param name="global">Level 2 (global) costs.</param>
    /// <param name="mtbf">M, the mean time between failures.</param>
    /// <param name="doubleFraction">q, the fraction of failures that level 1 cannot recover.</param>
    public static double Waste(double tau, int globalEvery, LevelCost local, LevelCost global, double mtbf, double doubleFraction)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tau);
        ArgumentOutOfRangeException.ThrowIfLessThan(globalEvery, 1);
        double lambda = 1 / mtbf, q = doubleFraction;
        double p1 = Math.Exp(-lambda * local.Restart);

        // A level-2 restart, failures during it included: X2 = E_0 + A2.
        double a2 = double.ExpM1(lambda * global.Restart) / lambda;

        // A level-1 restart before segment j: X1_j = s E_j + (g + h E_0), from
        // X1 = p1 (R1 + E_j) + (1 - p1) (t(R1) + (1 - q) X1 + q (E_0 + A2)).
        double denominator1 = 1 - ((1 - p1) * (1 - q));
        double s = p1 / denominator1;
        double g = ((p1 * local.Restart) + ((1 - p1) * (FailureTime(local.Restart, lambda) + (q * a2)))) / denominator1;
        double h = (1 - p1) * q / denominator1;

        // E_j = u_j + v_j E_0, backwards from E_K = 0:
        // E_j = p (T + E_{j+1}) + (1 - p) (t(T) + (1 - q) X1_j + q (E_0 + A2)).
        double u = 0, v = 0;
        for (int j = globalEvery - 1; j >= 0; j--)
        {
            double length = tau + (j == globalEvery - 1 ? global.Checkpoint : local.Checkpoint);
            double p = Math.Exp(-lambda * length);
            double fail = 1 - p;
            double self = fail * (1 - q) * s;                     // coefficient of E_j on the right
            double constant = (p * (length + u)) + (fail * (FailureTime(length, lambda) + ((1 - q) * g) + (q * a2)));
            double ofStart = (p * v) + (fail * (((1 - q) * h) + q)); // coefficient of E_0
            u = constant / (1 - self);
            v = ofStart / (1 - self);
        }

        if (v >= 1)
        {
            return 1; // never finishes
        }

        double expected = u / (1 - v);
        return !double.IsFinite(expected) || expected <= 0 ? 1 : 1 - (globalEvery * tau / expected);
    }

    /// <summary>The single-level case: every checkpoint global (cost C, restart R), every failure back to the last one.</summary>
    public static double SingleLevelWaste(double tau, LevelCost level, double mtbf) => Waste(tau, 1, level, level, mtbf, 1);

    /// <summary>The (tau, K) with the least expected waste: tau on a fine log grid, K from 1 to <see cref="MaxGlobalEvery"/>.</summary>
    public static (double Tau, int GlobalEvery, double Waste) Optimum(LevelCost local, LevelCost global, double mtbf, double doubleFraction, double from, double to)
    {
        (double Tau, int GlobalEvery, double Waste) best = (double.NaN, 0, double.PositiveInfinity);
        foreach (double tau in WasteModel.LogGrid(from, to, 600))
        {
            for (int k = 1; k <= MaxGlobalEvery; k++)
            {
                double waste = Waste(tau, k, local, global, mtbf, doubleFraction);
                if (waste < best.Waste)
                {
                    best = (tau, k, waste);
                }
            }
        }

        return best;
    }

    /// <summary>The single-level optimum on a fine log grid.</summary>
    public static (double Tau, double Waste) SingleLevelOptimum(LevelCost level, double mtbf, double from, double to)
    {
        double tau = WasteModel.LogGrid(from, to, 4001).MinBy(t => SingleLevelWaste(t, level, mtbf));
        return (tau, SingleLevelWaste(tau, level, mtbf));
    }

    /// <summary>
    /// Young/Daly applied to each level on its own, the rule of thumb the two-level model is set against: tau from
    /// Daly's formula with the level-1 cost and every failure (rate 1/M), the global period K (tau + C1) from Daly's
    /// formula with the level-2 cost and the failures only level 2 recovers (rate q/M); K rounded, at least 1.
    /// </summary>
    public static (double Tau, int GlobalEvery) YoungDalyPerLevel(LevelCost local, LevelCost global, double mtbf, double doubleFraction)
    {
        double tau = OptimalInterval.Daly(local.Checkpoint, mtbf);
        if (doubleFraction <= 0)
        {
            return (tau, MaxGlobalEvery);
        }

        double globalPeriod = OptimalInterval.Daly(global.Checkpoint, mtbf / doubleFraction);
        int k = (int)Math.Clamp(Math.Round(globalPeriod / (tau + local.Checkpoint)), 1, MaxGlobalEvery);
        return (tau, k);
    }

    /// <summary>Expected time to a failure that strikes within <paramref name="length"/> seconds (rate <paramref name="lambda"/>).</summary>
    private static double FailureTime(double length, double lambda)
    {
        if (length <= 0)
        {
            return 0;
        }

        double x = lambda * length;
        return (1 / lambda) - (length / double.ExpM1(x)); // 1/lambda - T e^-x / (1 - e^-x) = 1/lambda - T / (e^x - 1)
    }
}

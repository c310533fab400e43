using Coordinated.Checkpointing;
using Coordinated.Study;

namespace Coordinated.Tests.Study;

/// <summary>
/// The level comparison's arithmetic without running NBody: the two-level model against a closed form and against a
/// simulation of the same process written here, the node-failure schedule, and the work accounting of a trial.
/// </summary>
[Category("Study")]
public sealed class LevelModelTests
{
    [Test]
    public void Single_level_case_is_the_exact_exponential_formula()
    {
        // tau 9, C 1, R 2, M 50: E = M e^(R/M) (e^((tau + C)/M) - 1); waste = 1 - tau / E.
        double expected = 1 - (9 / (50 * Math.Exp(2.0 / 50) * (Math.Exp(10.0 / 50) - 1)));
        Assert.That(TwoLevelModel.SingleLevelWaste(9, new LevelCost(1, 2), 50), Is.EqualTo(expected).Within(1e-12));
        Assert.That(expected, Is.EqualTo(0.2189).Within(0.0005), "hand-computed: E = 50 * 1.04081 * 0.22140 = 11.522");
    }

    [TestCase(1)]
    [TestCase(4)]
    [TestCase(17)]
    public void With_equal_levels_and_no_double_failures_K_does_not_matter(int k)
    {
        var level = new LevelCost(0.3, 1.5);
        Assert.That(TwoLevelModel.Waste(2, k, level, level, 20, 0), Is.EqualTo(TwoLevelModel.SingleLevelWaste(2, level, 20)).Within(1e-12));
    }

    [Test]
    public void Only_double_failures_and_K_1_is_the_single_level_model_of_the_global_level()
    {
        var local = new LevelCost(0.05, 0.7);
        var global = new LevelCost(0.4, 2.5);
        Assert.That(TwoLevelModel.Waste(3, 1, local, global, 30, 1), Is.EqualTo(TwoLevelModel.SingleLevelWaste(3, global, 30)).Within(1e-12));
    }

    [TestCase(1.0, 4, 0.3)]
    [TestCase(0.5, 8, 0.1)]
    [TestCase(2.0, 2, 0.6)]
    public void Model_matches_a_simulation_of_the_same_process(double tau, int k, double q)
    {
        var local = new LevelCost(0.1, 0.5);
        var global = new LevelCost(0.6, 1.2);
        const double mtbf = 10;
        double simulated = Simulate(tau, k, local, global, mtbf, q, patterns: 200_000, seed: 12345);
        Assert.That(TwoLevelModel.Waste(tau, k, local, global, mtbf, q), Is.EqualTo(simulated).Within(0.004));
    }

    [Test]
    public void Two_level_optimum_is_no_worse_than_per_level_Young_Daly_or_its_neighbours()
    {
        var local = new LevelCost(0.02, 1.8);
        var global = new LevelCost(0.2, 1.8);
        var (tau, k, waste) = TwoLevelModel.Optimum(local, global, 15, 0.2, 0.05, 15);
        var (ydTau, ydK) = TwoLevelModel.YoungDalyPerLevel(local, global, 15, 0.2);
        Assert.That(waste, Is.LessThanOrEqualTo(TwoLevelModel.Waste(ydTau, ydK, local, global, 15, 0.2)));
        Assert.That(waste, Is.LessThanOrEqualTo(TwoLevelModel.Waste(tau * 1.1, k, local, global, 15, 0.2)));
        Assert.That(waste, Is.LessThanOrEqualTo(TwoLevelModel.Waste(tau / 1.1, k, local, global, 15, 0.2)));
        Assert.That(waste, Is.LessThanOrEqualTo(TwoLevelModel.Waste(tau, k + 1, local, global, 15, 0.2)));
        Assert.That(waste, Is.LessThan(TwoLevelModel.SingleLevelOptimum(global, 15, 0.05, 15).Waste), "cheap local checkpoints must help");
        Assert.That(ydTau, Is.EqualTo(OptimalInterval.Daly(0.02, 15)).Within(1e-12));
        Assert.That(ydK, Is.EqualTo((int)Math.Round(OptimalInterval.Daly(0.2, 75) / (ydTau + 0.02))));
    }

    [Test]
    public void Node_failures_keep_the_interval_studys_times_and_pick_neighbours()
    {
        var times = new FailureSchedule(15, 1, 2);
        var mixed = new NodeFailureSchedule(15, 1, 2, nodes: 4, doubleFraction: 0.25);
        var singles = new NodeFailureSchedule(15, 1, 2, nodes: 4, doubleFraction: 0);
        NodeFailure[] drawn = [.. Enumerable.Range(0, 20_000).Select(_ => mixed.Next())];
        NodeFailure[] single = [.. Enumerable.Range(0, 20_000).Select(_ => singles.Next())];
        Assert.That(drawn.Select(f => f.AtSeconds).Take(50), Is.EqualTo(Enumerable.Range(0, 50).Select(_ => times.Next())), "same times as the interval study");
        Assert.That(drawn.Count(f => f.TakesTwo) / (double)drawn.Length, Is.EqualTo(0.25).Within(0.015));
        Assert.That(drawn.Where(f => f.TakesTwo).Select(f => (f.Nodes[0] + 1) % 4 == f.Nodes[1]), Is.All.True, "two neighbouring nodes");
        Assert.That(single.Any(f => f.TakesTwo), Is.False);
        Assert.That(single.Select(f => f.Nodes[0]), Is.EqualTo(drawn.Select(f => f.Nodes[0])), "the mix does not change which node fails first");
        Assert.That(single.GroupBy(f => f.Nodes[0]).Select(g => g.Count() / 20_000.0), Is.All.EqualTo(0.25).Within(0.015), "uniform over the nodes");
    }

    [Test]
    public void Work_follows_the_result_back_through_the_launches()
    {
        static LevelCheckpoint Local(double at, long step) => new(at, step, "every-seconds", 0.1, "local+partner");
        static LevelCheckpoint Global(double at, long step) => new(at, step, "every-seconds", 0.5, "global");
        var config = new LevelConfig(true, 1, 2);
        LevelLaunch[] launches =
        [
            // Fresh: first step at 1.0, commits global 20 at 3.0 and local 30 at 4.0, killed at 4.5 with both nodes.
            new(1.0, 0, 4.5, new NodeFailure(4.5, [0, 1]), null, [Global(3.0, 20), Local(4.0, 30)]),
            // Back to the global 20: first step at 2.0, local 40 at 5.0, killed at 6.0 losing one node.
            new(2.0, 20, 6.0, new NodeFailure(6.0, [1]), "global", [Local(5.0, 40)]),
            // From the partner copy of 40: first step at 1.5, exits at 7.0 after one more periodic checkpoint.
            new(1.5, 40, 7.0, null, "partner", [Local(3.0, 50), new(6.8, 60, "final", 0.2, "global")]),
        ];
        var trial = new LevelTrial(config, 0, launches, MakespanSeconds: 20, Steps: 60);

        // Result: launch 3 (7.0 - 1.5 - 0.1) + launch 2 up to its commit of 40 (5.0 - 2.0 - 0.1)
        // + launch 1 up to its commit of 20 (3.0 - 1.0 - 0.5) + launch 1's start-up 1.0; its local 30 was lost.
        Assert.That(trial.WorkSeconds, Is.EqualTo(5.4 + 2.9 + 1.5 + 1.0).Within(1e-12));
        Assert.That(trial.Waste, Is.EqualTo((20 - 10.8) / 20).Within(1e-12));
        Assert.That(trial.CheckpointSeconds, Is.EqualTo(0.5 + 0.1 + 0.1 + 0.1).Within(1e-12), "every periodic checkpoint, lost ones too");
        Assert.That(trial.RestartSeconds, Is.EqualTo(2.0 + 1.5).Within(1e-12));
        Assert.That(trial.ReworkSeconds, Is.EqualTo(20 - 10.8 - 0.8 - 3.5).Within(1e-12));
        Assert.That((trial.Failures, trial.DoubleFailures, trial.Restarts("partner"), trial.Restarts("global")), Is.EqualTo((2, 1, 1, 1)));
        Assert.That(trial.RestartTimes(global: false), Is.EqualTo(new[] { 1.5 }));
        Assert.That(trial.RestartTimes(global: true), Is.EqualTo(new[] { 2.0 }));
    }

    [Test]
    public void A_commit_the_kill_kept_out_of_the_metrics_counts_at_the_kill()
    {
        var config = new LevelConfig(true, 1, 2);
        LevelLaunch[] launches =
        [
            new(1.0, 0, 2.5, new NodeFailure(2.5, [0]), null, []),           // committed step 23 just before the kill, no event
            new(1.5, 23, 6.0, null, "partner", [new(5.9, 73, "final", 0.2, "global")]),
        ];
        var trial = new LevelTrial(config, 0, launches, MakespanSeconds: 8.6, Steps: 73);
        Assert.That(trial.WorkSeconds, Is.EqualTo((6.0 - 1.5) + (2.5 - 1.0) + 1.0).Within(1e-12));
    }

    /// <summary>
    /// Monte Carlo of the two-level pattern, written independently of the model: segments of tau + C, the K-th with
    /// the global cost; exponential failures; a single failure goes back to the start of its segment after R1 (a
    /// double one during R1 turns it into R2), a double one to the start of the pattern after R2; failures during a
    /// restart start it again.
    /// </summary>
    private static double Simulate(double tau, int k, LevelCost local, LevelCost global, double mtbf, double q, int patterns, int seed)
    {
        var random = new Random(seed);
        double Exponential() => -mtbf * Math.Log(1 - random.NextDouble());
        double time = 0;
        for (int p = 0; p < patterns; p++)
        {
            int segment = 0;
            while (segment < k)
            {
                double length = tau + (segment == k - 1 ? global.Checkpoint : local.Checkpoint);
                double failure = Exponential();
                if (failure >= length)
                {
                    time += length;
                    segment++;
                    continue;
                }

                time += failure;
                bool twoNodes = random.NextDouble() < q;
                while (true)
                {
                    double restart = twoNodes ? global.Restart : local.Restart;
                    double next = Exponential();
                    if (next >= restart)
                    {
                        time += restart;
                        break;
                    }

                    time += next;
                    twoNodes |= random.NextDouble() < q;
                }

                if (twoNodes)
                {
                    segment = 0;
                }
            }
        }

        return 1 - (patterns * k * tau / time);
    }
}

namespace Coordinated.Study;

/// <summary>What one study run does: the NBody size, the failure rate, the intervals swept and the trials.</summary>
internal sealed record StudySettings
{
    /// <summary>Where study.parquet, study.png, summary.txt and the runs' checkpoint directories go.</summary>
    public required string OutDirectory { get; init; }

    /// <summary>The NBody.dll run under mpirun.</summary>
    public required string NBodyDll { get; init; }

    public bool Quick { get; init; }

    public int Ranks { get; init; }

    public int Particles { get; init; }

    /// <summary>Mean time between the injected failures, M (seconds).</summary>
    public double MtbfSeconds { get; init; }

    /// <summary>The intervals to sweep (seconds of compute between checkpoints); null: multiples of Daly's interval.</summary>
    public IReadOnlyList<double>? Intervals { get; init; }

    /// <summary>Multiples of Daly's interval swept when <see cref="Intervals"/> is null.</summary>
    public IReadOnlyList<double> DalyMultiples { get; init; } = [];

    public int Trials { get; init; }

    /// <summary>Failure-free compute the fixed amount of work should take (sets the number of steps).</summary>
    public double WorkSeconds { get; init; }

    /// <summary>Seeds the failure times (trial k uses the same sequence at every interval).</summary>
    public long Seed { get; init; }

    /// <summary>Restart runs timed for R before the sweep.</summary>
    public int Repeats { get; init; }

    /// <summary>
    /// The level comparison (--compare-levels): global-only against local + partner + global every K, under node
    /// failures, instead of the interval sweep.
    /// </summary>
    public bool CompareLevels { get; init; }

    /// <summary>Pseudo-nodes each run is spread over (mpirun MPMD, one COORDINATED_NODE per app context); 1: plain mpirun.</summary>
    public int Nodes { get; init; } = 1;

    /// <summary>The fraction of node failures that take two neighbouring nodes (the partner level cannot recover those).</summary>
    public double DoubleFraction { get; init; }

    /// <summary>Where the pseudo-nodes' node-local directories go (a trial's are BASE/TRIAL/NODE).</summary>
    public string LocalBase { get; init; } = "";

    /// <summary>The level comparison's settings: <paramref name="basis"/> with its defaults for the comparison.</summary>
    public static StudySettings CompareDefaults(StudySettings basis, string localBase) => basis with
    {
        CompareLevels = true,
        Nodes = 2,
        DoubleFraction = 0.2,
        LocalBase = localBase,
        Particles = basis.Quick ? 4096 : 8192,
        MtbfSeconds = basis.Quick ? 8 : 10,
        Trials = basis.Quick ? 2 : 3,
        WorkSeconds = basis.Quick ? 5 : 20,
        Repeats = 2,
    };

    /// <summary>The quick study for CI: small N, short M, 3 intervals x 2 trials; under 3 minutes on 2 cores.</summary>
    public static StudySettings QuickDefaults(string outDirectory, string nbodyDll) => new()
    {
        OutDirectory = outDirectory,
        NBodyDll = nbodyDll,
        Quick = true,
        Ranks = 2,
        Particles = 4096,
        MtbfSeconds = 8,
        DalyMultiples = [1.0 / 3, 1, 3],
        Trials = 2,
        WorkSeconds = 7,
        Seed = 3, // its first failures come at 5.2 s (trial 1) and 2.5 s (trial 2): every quick run exercises kills
        // even when the machine is faster than when the step time was measured
        Repeats = 2,
    };

    /// <summary>The default study: 6 intervals from Daly/8 to 4 Daly, 3 trials each; about 15-25 minutes on 2 cores.</summary>
    public static StudySettings FullDefaults(string outDirectory, string nbodyDll) => new()
    {
        OutDirectory = outDirectory,
        NBodyDll = nbodyDll,
        Ranks = 2,
        Particles = 8192,
        MtbfSeconds = 15,
        DalyMultiples = [1.0 / 8, 1.0 / 4, 1.0 / 2, 1, 2, 4],
        Trials = 3,
        WorkSeconds = 30,
        Seed = 1,
        Repeats = 3,
    };
}

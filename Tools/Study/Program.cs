using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Runtime.InteropServices;
using Coordinated;
using Coordinated.Checkpointing;
using Coordinated.Hosting;
using Coordinated.Study;

// The checkpoint-interval study: measures C, R and the step time of NBody, then runs a fixed amount of NBody work at
// several checkpoint intervals under real kill -9 failures at exponential times, restarting until it is done, and
// sets the measured waste beside the first-order model and Young's and Daly's intervals. See docs/STUDY.md.

var quick = new Option<bool>("--quick") { Description = "The short study for CI: 4096 particles, M = 8 s, 3 intervals x 2 trials, under 3 minutes on 2 cores" };
var output = new Option<string?>("--out") { Description = "Output directory (study.parquet, study.png, summary.txt, runs/); created if missing", HelpName = "DIR", CustomParser = OptionParsers.NonEmpty };
var ranks = new Option<int>("--ranks") { Description = "MPI ranks of each NBody run [2]", HelpName = "R", CustomParser = r => OptionParsers.Count32(r, min: 1, max: 1024) };
var particles = new Option<int>("--particles") { Description = "NBody particles [quick 4096, default 8192]", HelpName = "N", CustomParser = r => OptionParsers.Count32(r, min: 1, max: 1_000_000) };
var mtbf = new Option<double>("--mtbf") { Description = "Mean time between injected failures M (seconds, or 90s, 2m) [quick 8, default 15]", HelpName = "S", CustomParser = r => OptionParsers.Duration(r, allowZero: false) };
var intervals = new Option<double[]?>("--intervals")
{
    Description = "Checkpoint intervals to sweep, comma-separated (seconds of compute between checkpoints) [multiples of Daly's interval: quick 1/3,1,3; default 1/8 .. 4]",
    HelpName = "a,b,c",
    CustomParser = ParseIntervals,
};
var trials = new Option<int>("--trials") { Description = "Trials per interval [quick 2, default 3]", HelpName = "T", CustomParser = r => OptionParsers.Count32(r, min: 1) };
var work = new Option<double>("--work") { Description = "Failure-free compute time of the fixed work (seconds) [quick 7, default 30]", HelpName = "S", CustomParser = r => OptionParsers.Duration(r, allowZero: false) };
var seed = new Option<long>("--seed") { Description = "Seed of the failure times [quick 3, default 1]", CustomParser = r => OptionParsers.Count(r, min: 0) };
var nbody = new Option<string?>("--nbody") { Description = "NBody.dll to run [the one built in this checkout]", HelpName = "DLL", CustomParser = OptionParsers.NonEmpty };
var compareLevels = new Option<bool>("--compare-levels")
{
    Description = "Instead of the interval sweep: global-only checkpoints against local + partner + global every K, under node failures at the same " +
        "seeded times and M, each swept around its model's optimum (Young/Daly; the two-level model of Moody et al., SC10). Writes DIR/levels.parquet, " +
        "DIR/levels.png and DIR/summary.txt [quick 4096 particles, M = 8 s, work 5 s, 2 trials; default 8192, M = 10 s, work 20 s, 3 trials]",
};
var nodes = new Option<int>("--nodes") { Description = "With --compare-levels: pseudo-nodes on this host (mpirun MPMD, COORDINATED_NODE) [2]", HelpName = "N", CustomParser = r => OptionParsers.Count32(r, min: 2, max: 64) };
var doubleFraction = new Option<double>("--double-fraction")
{
    Description = "With --compare-levels: fraction of node failures that take two neighbouring nodes, which only the global level recovers (0 to 1) [0.2]",
    HelpName = "F",
    CustomParser = ParseFraction,
};
var localDir = new Option<string?>("--local-dir") { Description = "With --compare-levels: where the pseudo-nodes' node-local directories go [/dev/shm/coordinated-study-PID]", HelpName = "DIR", CustomParser = OptionParsers.NonEmpty };

var command = new RootCommand(
    "Checkpoint-interval study: measures the checkpoint cost C, the restart cost R and the step time of NBody, then runs a " +
    "fixed amount of work at several checkpoint intervals under real kill -9 failures at exponential times (mean M), " +
    "restarting from the newest snapshot until done, and compares the measured waste with the model and with Young's and " +
    "Daly's intervals. Writes DIR/study.parquet, DIR/study.png and DIR/summary.txt. With --compare-levels: global-only against " +
    "multi-level checkpoints under node failures instead (DIR/levels.parquet, DIR/levels.png). Exit 0 done, 64 bad arguments, 69 a tool is missing, 1 a run failed.")
{
    quick, output, ranks, particles, mtbf, intervals, trials, work, seed, nbody, compareLevels, nodes, doubleFraction, localDir,
};
command.Validators.Add(r =>
{
    if (r.GetResult(output) is null)
    {
        r.AddError("--out DIR is required (where study.parquet and study.png go)");
    }

    if (OptionParsers.TryGet(r, particles, out int n) && OptionParsers.TryGet(r, ranks, out int p) && n < p)
    {
        r.AddError("--particles must be at least --ranks");
    }

    bool comparing = r.GetResult(compareLevels) is { Implicit: false };
    foreach (Option option in (Option[])[nodes, doubleFraction, localDir])
    {
        if (!comparing && r.GetResult(option) is { Implicit: false })
        {
            r.AddError($"{option.Name} is only for --compare-levels");
        }
    }

    if (comparing && r.GetResult(intervals) is { Implicit: false })
    {
        r.AddError("--intervals is not for --compare-levels (the comparison sweeps around each model's optimum)");
    }

    if (comparing)
    {
        int rankCount = OptionParsers.TryGet(r, ranks, out int given) ? given : 2;
        int nodeCount = OptionParsers.TryGet(r, nodes, out int m) ? m : 2;
        if (rankCount % nodeCount != 0)
        {
            r.AddError($"--nodes {nodeCount} must divide --ranks {rankCount} (each pseudo-node runs the same number of ranks)");
        }
    }
});
command.SetAction(result =>
{
    string outDirectory = Path.GetFullPath(result.GetValue(output)!);
    string? dll = result.GetValue(nbody) ?? DefaultNBodyDll();
    if (dll is null || !File.Exists(dll))
    {
        Console.Error.WriteLine($"error: {(dll is null ? "NBody.dll was not found next to this checkout" : $"{dll} does not exist")}; build it (dotnet build Coordinated.sln -c Release) or give --nbody");
        return StudyMain.Unavailable;
    }

    var settings = result.GetValue(quick) ? StudySettings.QuickDefaults(outDirectory, Path.GetFullPath(dll)) : StudySettings.FullDefaults(outDirectory, Path.GetFullPath(dll));
    settings = settings with
    {
        Ranks = result.GetResult(ranks) is null ? settings.Ranks : result.GetValue(ranks),
        Particles = result.GetResult(particles) is null ? settings.Particles : result.GetValue(particles),
        MtbfSeconds = result.GetResult(mtbf) is null ? settings.MtbfSeconds : result.GetValue(mtbf),
        Intervals = result.GetResult(intervals) is null ? null : result.GetValue(intervals),
        Trials = result.GetResult(trials) is null ? settings.Trials : result.GetValue(trials),
        WorkSeconds = result.GetResult(work) is null ? settings.WorkSeconds : result.GetValue(work),
        Seed = result.GetResult(seed) is null ? settings.Seed : result.GetValue(seed),
    };
    if (result.GetValue(compareLevels))
    {
        string local = Path.GetFullPath(result.GetValue(localDir) ?? Path.Combine(Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath(), $"coordinated-study-{Environment.ProcessId}"));
        var compare = StudySettings.CompareDefaults(settings, local);
        settings = compare with
        {
            Particles = result.GetResult(particles) is null ? compare.Particles : settings.Particles,
            MtbfSeconds = result.GetResult(mtbf) is null ? compare.MtbfSeconds : settings.MtbfSeconds,
            Trials = result.GetResult(trials) is null ? compare.Trials : settings.Trials,
            WorkSeconds = result.GetResult(work) is null ? compare.WorkSeconds : settings.WorkSeconds,
            Nodes = result.GetResult(nodes) is null ? compare.Nodes : result.GetValue(nodes),
            DoubleFraction = result.GetResult(doubleFraction) is null ? compare.DoubleFraction : result.GetValue(doubleFraction),
        };
    }

    return StudyMain.Run(settings);
});

var parse = command.Parse(args);
if (parse.Errors.Count > 0)
{
    Console.Error.WriteLine(OptionParsers.OneLine(parse, args));
    return ExitCodes.Usage;
}

return parse.Invoke();

static double[] ParseIntervals(ArgumentResult r)
{
    string text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
    var values = new List<double>();
    foreach (string part in text.Split(',', StringSplitOptions.TrimEntries))
    {
        if (OptionParsers.TryParseDuration(part) is not double seconds || seconds <= 0)
        {
            r.AddError($"--intervals: '{part}' is not a positive duration (example: --intervals 0.5,1,2,4)");
            return [];
        }

        values.Add(seconds);
    }

    if (values.Distinct().Count() != values.Count)
    {
        r.AddError("--intervals: an interval is given twice");
    }

    return [.. values.Order()];
}

static double ParseFraction(ArgumentResult r)
{
    double value = OptionParsers.Real(r, allowZero: true);
    if (value > 1)
    {
        r.AddError(string.Create(CultureInfo.InvariantCulture, $"--double-fraction: {value} is more than 1 (a fraction of the failures, 0 to 1)"));
    }

    return value;
}

static string? DefaultNBodyDll()
{
    // Tools/Study/bin/<Configuration>/net10.0/Study.dll -> Apps/NBody/bin/<Configuration>/net10.0/NBody.dll
    var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
    string? configuration = here.Parent?.Name;
    for (var dir = here; dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "Coordinated.sln")))
        {
            return Path.Combine(dir.FullName, "Apps", "NBody", "bin", configuration ?? "Release", "net10.0", "NBody.dll");
        }
    }

    return null;
}

namespace Coordinated.Study
{
    /// <summary>The study from calibration to report.</summary>
    internal static class StudyMain
    {
        /// <summary>Exit code when a tool the study needs is missing (EX_UNAVAILABLE).</summary>
        public const int Unavailable = 69;

        public static int Run(StudySettings settings)
        {
            foreach (var (tool, package) in (ReadOnlySpan<(string, string)>)[("gnuplot", "gnuplot-nox"), ("mpirun", "openmpi-bin"), ("setsid", "util-linux")])
            {
                if (!OnPath(tool))
                {
                    Console.Error.WriteLine($"error: the study needs {tool}; install it with: apt-get install {package} (or scripts/ensure-deps.sh study)");
                    return Unavailable;
                }
            }

            var progress = new Progress(Console.Error);
            s_localBase = settings.CompareLevels ? settings.LocalBase : null;
            using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Interrupted);
            using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Interrupted);
            try
            {
                Directory.CreateDirectory(settings.OutDirectory);
                if (settings.CompareLevels)
                {
                    return LevelStudy.Run(settings, progress);
                }

                string runs = Path.Combine(settings.OutDirectory, "runs");
                Directory.CreateDirectory(runs);
                var runner = new NBodyRunner(settings, runs, progress);
                Measurements measured = runner.Calibrate();
                if (!MtbfCoversRestarts(settings, measured))
                {
                    return ExitCodes.Usage;
                }

                double daly = OptimalInterval.Daly(measured.CheckpointSeconds, settings.MtbfSeconds);
                IReadOnlyList<double> sweep = settings.Intervals ?? [.. settings.DalyMultiples.Select(f => TwoSignificantDigits(f * daly)).Distinct().Order()];
                progress.Say(string.Create(CultureInfo.InvariantCulture,
                    $"calibrated: step {1000 * measured.StepSeconds:F2} ms, C = {measured.CheckpointSeconds:F3} s, R = {measured.RestartSeconds:F2} s, work {measured.Steps} steps; " +
                    $"Young {OptimalInterval.Young(measured.CheckpointSeconds, settings.MtbfSeconds):F2} s, Daly {daly:F2} s; sweeping {string.Join(", ", sweep.Select(i => i.ToString("0.###", CultureInfo.InvariantCulture)))} s x {settings.Trials} trials"));

                List<TrialResult> trials = new Sweep(runner, measured, progress).Run(sweep);
                var report = new Report(settings, measured, sweep, trials);
                progress.Say(string.Create(CultureInfo.InvariantCulture,
                    $"over the whole study: C = {report.Cost:F3} s, R = {report.Restart:F2} s (the model and Young's and Daly's intervals below use these)"));
                Write(report, settings.OutDirectory, "study", progress);
                return ExitCodes.Success;
            }
            catch (StudyException e)
            {
                MpiJob.KillAll();
                Console.Error.WriteLine($"error: {e.Message}");
                return ExitCodes.Failure;
            }
        }

        /// <summary>Writes DIR/NAME.parquet, DIR/NAME.png and DIR/summary.txt, and the summary to stdout.</summary>
        internal static void Write(IStudyReport report, string directory, string name, Progress progress)
        {
            report.WriteParquet(Path.Combine(directory, $"{name}.parquet"));
            report.Plot(directory, Path.Combine(directory, $"{name}.png"));
            string summary = report.Summary();
            File.WriteAllText(Path.Combine(directory, "summary.txt"), summary);
            Console.Out.Write(summary);
            progress.Say($"wrote {Path.Combine(directory, $"{name}.parquet")}, {name}.png and summary.txt in {progress.Elapsed.TotalMinutes:F1} minutes");
        }

        /// <summary>False, with the error on stderr, when M is so short for the measured R that most restarts would be killed.</summary>
        internal static bool MtbfCoversRestarts(StudySettings settings, Measurements measured)
        {
            if (settings.MtbfSeconds > 1.5 * measured.RestartSeconds)
            {
                return true;
            }

            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"error: --mtbf {settings.MtbfSeconds:0.###} s is too short for the measured restart cost R = {measured.RestartSeconds:F2} s: most restarts would be killed before they resume. Use --mtbf {Math.Ceiling(4 * measured.RestartSeconds)} or more."));
            return false;
        }

        /// <summary>Rounds to two significant digits (0.1372 -> 0.14, 13.72 -> 14).</summary>
        internal static double TwoSignificantDigits(double x)
        {
            double scale = Math.Pow(10, Math.Floor(Math.Log10(x)) - 1);
            return Math.Round(Math.Round(x / scale) * scale, 12); // the second rounding drops 0.14000000000000001's tail
        }

        /// <summary>The level comparison's node-local directories, removed when the study is interrupted.</summary>
        private static string? s_localBase;

        private static void Interrupted(PosixSignalContext context)
        {
            context.Cancel = true;
            Console.Error.WriteLine($"study: got {context.Signal}; killing the running NBody job and stopping");
            MpiJob.KillAll();
            if (s_localBase is not null)
            {
                LevelSweep.DeleteDirectory(s_localBase);
            }

            Environment.Exit(130);
        }

        private static bool OnPath(string name) =>
            (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Any(dir => File.Exists(Path.Combine(dir, name)));
    }
}

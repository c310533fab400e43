using System.Globalization;
using Coordinated.Tests.Infrastructure;

namespace Coordinated.Tests.CommandLine;

/// <summary>
/// Every option of every app and tool (counter, nbody, md, bench, kernel-bench, study; the runtime flags with each app)
/// given every kind of bad value. Each must exit 64 with one line on stderr that names the flag, print nothing on
/// stdout, and create nothing: it runs as <c>dotnet X.dll</c> (one process, no mpirun: the command line is checked
/// before MPI_Init; the reported case also through mpi-run.sh on 2 ranks) in an empty scratch directory, with every path under it, and the directory must stay empty.
/// </summary>
/// <remarks>
/// The bad values, by the kind of the flag (<see cref="Kind"/>); a kind that cannot be wrong for a flag is skipped:
/// <code>
///              negative  zero        huge        NaN  Infinity  abc  ""   missing
/// Count        -5        if invalid  max + 1     x    x         x    x    x
/// Real         -5        if invalid  1e999       x    x         x    x    x
/// Duration     -5        if invalid  1e999       x    x         x    x    x
/// Interval     -5        (0 is off)  1e999       x    x         x    x    x     'auto' or a duration
/// List         -5        0           max + 1     x    x         x    x    x     signals, sizes; intervals (huge 1e999)
/// Name         -5        0           max + 1     x    x         x    x    x     enum members by name only
/// Text         -         -           -           -    -         -    x    x     paths: any non-empty text is one
/// Switch       -5        0           max + 1     x    x         x    x    -     a value after a switch
/// </code>
/// "max + 1" is one more than the largest value the flag accepts (for a long, 99999999999999999999; for an int,
/// 2^31, which a cast would wrap around). "Infinity" is the spelling .NET parses as a double, so it gets past a plain
/// TryParse; "missing" puts the flag last with no value. The flag under test is never also in the context arguments.
/// </remarks>
[Category("CommandLine")]
public sealed class BadOptionTests
{
    internal enum Kind
    {
        Count,
        Real,
        Duration,
        Interval,
        List,
        Name,
        Text,
        Switch,
    }

    /// <summary>A program: the command that starts it, and valid context arguments (small, fast runs).</summary>
    private sealed record Program(string Name, Func<string[]> Command, string[] Context);

    /// <summary>One flag: its kind, whether 0 is invalid, and the largest valid value (for "max + 1").</summary>
    private sealed record Flag(string Name, Kind Kind, bool ZeroInvalid = false, long Max = long.MaxValue, string[]? Needs = null, string? Huge = null);

    /// <summary>One run: the arguments after the context, the flag the line must name, what else it must say, and context flags left out.</summary>
    public sealed record Case(string Label, string[] Args, string Flag, string? Contains = null, string[]? Drop = null);

    private static readonly Program s_counter = new("counter", () => ["dotnet", Repo.CounterDll], ["--to", "1", "--step-seconds", "0", "--counters", "2", "--report-every", "0", "--checkpoint-dir", "ckpt"]);
    private static readonly Program s_nbody = new("nbody", () => ["dotnet", Repo.NBodyDll], ["--particles", "8", "--steps", "1", "--report-every", "0", "--checkpoint-dir", "ckpt"]);
    private static readonly Program s_md = new("md", () => ["dotnet", Repo.MDDll], ["--cells", "4", "--steps", "1", "--report-every", "0", "--checkpoint-dir", "ckpt"]);
    private static readonly Program s_bench = new("bench", () => ["dotnet", Repo.BenchDll], ["--particles", "8", "--repeat", "1", "--agreement-steps", "0", "--gap", "0", "--checkpoint-dir", "ckpt"]);
    private static readonly Program s_kernel = new("kernel-bench", () => ["dotnet", Repo.NBodyDll, "bench-kernel"], ["--sizes", "8", "--repeats", "1"]);

    // --nbody to a file that does not exist: a case the study wrongly accepted would exit 69 at once, not run for minutes.
    private static readonly Program s_study = new("study", () => ["dotnet", Repo.StudyDll], ["--quick", "--out", "out", "--nbody", "missing/NBody.dll"]);

    // The defect as reported: through the launcher, on 2 ranks under mpirun.
    private static readonly Program s_launcher = new("mpi-run.sh -n 2 nbody", () => [Path.Combine(Repo.Root, "mpi-run.sh"), "-n", "2", "nbody"], s_nbody.Context);

    /// <summary>Runtime/Hosting/RuntimeCommandLine.cs: the flags every app has.</summary>
    private static readonly Flag[] s_runtime =
    [
        new("--checkpoint-dir", Kind.Text),
        new("--checkpoint-every-steps", Kind.Count),
        new("--checkpoint-every-seconds", Kind.Duration),
        new("--checkpoint-interval", Kind.Interval),
        new("--mtbf", Kind.Duration, ZeroInvalid: true, Needs: ["--checkpoint-interval", "auto"]),
        new("--max-runtime", Kind.Duration),
        new("--walltime-reserve", Kind.Duration),
        new("--max-requeues", Kind.Count, Max: int.MaxValue),
        new("--keep", Kind.Count, ZeroInvalid: true, Max: int.MaxValue),
        new("--fresh", Kind.Switch),
        new("--stop-signals", Kind.List),
        new("--on-checkpoint-error", Kind.Name),
        new("--checkpoint-async", Kind.Switch),
        new("--checkpoint-local-dir", Kind.Text),
        new("--global-every", Kind.Count, ZeroInvalid: true, Max: int.MaxValue, Needs: ["--checkpoint-local-dir", "local"]),
        new("--no-partner", Kind.Switch, Needs: ["--checkpoint-local-dir", "local"]),
        new("--quiet", Kind.Switch),
    ];

    private static readonly (Program Program, Flag[] Flags)[] s_table =
    [
        (s_counter, [
            new("--counters", Kind.Count, ZeroInvalid: true, Max: Array.MaxLength),
            new("--to", Kind.Count),
            new("--step-seconds", Kind.Duration),
            new("--output", Kind.Text),
            new("--report-every", Kind.Count),
            .. s_runtime]),
        (s_nbody, [
            new("--particles", Kind.Count, ZeroInvalid: true, Max: int.MaxValue / 3),
            new("--steps", Kind.Count),
            new("--dt", Kind.Real, ZeroInvalid: true),
            new("--softening", Kind.Real, ZeroInvalid: true),
            new("--seed", Kind.Count),
            new("--initial", Kind.Name),
            new("--report-every", Kind.Count),
            new("--output", Kind.Text),
            .. s_runtime]),
        (s_md, [
            new("--cells", Kind.Count, ZeroInvalid: true),
            new("--steps", Kind.Count),
            new("--dt", Kind.Real, ZeroInvalid: true),
            new("--cutoff", Kind.Real, ZeroInvalid: true),
            new("--skin", Kind.Real),
            new("--density", Kind.Real, ZeroInvalid: true),
            new("--temperature", Kind.Real),
            new("--seed", Kind.Count),
            new("--report-every", Kind.Count),
            new("--report-ranks", Kind.Switch),
            new("--output", Kind.Text),
            .. s_runtime]),
        (s_bench, [
            new("--particles", Kind.Count, ZeroInvalid: true, Max: int.MaxValue / 3),
            new("--repeat", Kind.Count, ZeroInvalid: true),
            new("--agreement-steps", Kind.Count),
            new("--gap", Kind.Duration),
            new("--json", Kind.Switch),
            .. s_runtime]),
        (s_kernel, [
            new("--repeats", Kind.Count, ZeroInvalid: true, Max: int.MaxValue),
            new("--sizes", Kind.List, Max: int.MaxValue / 3),
        ]),
        (s_study, [
            new("--quick", Kind.Switch),
            new("--out", Kind.Text),
            new("--ranks", Kind.Count, ZeroInvalid: true, Max: 1024),
            new("--particles", Kind.Count, ZeroInvalid: true, Max: 1_000_000),
            new("--mtbf", Kind.Duration, ZeroInvalid: true),
            new("--intervals", Kind.List, Huge: "1e999"),
            new("--trials", Kind.Count, ZeroInvalid: true, Max: int.MaxValue),
            new("--work", Kind.Duration, ZeroInvalid: true),
            new("--seed", Kind.Count),
            new("--nbody", Kind.Text),
        ]),
    ];

    /// <summary>Bad command lines that are not one bad value: unknown flags, missing or conflicting flags.</summary>
    private static readonly (Program Program, Case Case)[] s_combinations =
    [
        (s_counter, new("unknown flag", ["--bogus", "1"], "--bogus", "Unrecognized command or argument")),
        (s_counter, new("auto without --mtbf", ["--checkpoint-interval", "auto"], "--mtbf", "needs --mtbf")),
        (s_counter, new("--mtbf without auto", ["--mtbf", "60"], "--mtbf", "only with --checkpoint-interval auto")),
        (s_counter, new("two wall-clock intervals", ["--checkpoint-interval", "60", "--checkpoint-every-seconds", "30"], "--checkpoint-every-seconds", "give only one")),
        (s_counter, new("--global-every without a local level", ["--global-every", "5"], "--global-every", "only with --checkpoint-local-dir")),
        (s_counter, new("--no-partner without a local level", ["--no-partner"], "--no-partner", "only with --checkpoint-local-dir")),
        (s_counter, new("a signal that cannot be caught", ["--stop-signals", "TERM,KILL"], "--stop-signals", "unknown signal 'KILL'")),
        (s_study, new("an interval twice", ["--intervals", "1,1"], "--intervals", "given twice")),
        (s_study, new("no --out", [], "--out", "is required", Drop: ["--out"])),
        (s_study, new("fewer particles than ranks", ["--ranks", "4", "--particles", "2"], "--particles", "at least --ranks")),
        (s_nbody, new("a value after a switch in the middle", ["--fresh", "yes", "--steps", "1"], "--fresh", "takes no value")),
        (s_launcher, new("zero particles", ["--particles", "0"], "--particles", "0 is not allowed")),
        (s_launcher, new("negative particles", ["--particles", "-5"], "--particles", "-5 is not allowed")),
    ];

    private static IEnumerable<TestCaseData> Flags()
    {
        foreach (var (program, flags) in s_table)
        {
            foreach (Flag flag in flags)
            {
                yield return new TestCaseData(program.Name, BadValues(flag).ToArray()).SetName($"{program.Name} {flag.Name}");
            }
        }

        foreach (var group in s_combinations.GroupBy(c => c.Program))
        {
            yield return new TestCaseData(group.Key.Name, group.Select(c => c.Case).ToArray()).SetName($"{group.Key.Name} bad combinations");
        }
    }

    /// <summary>The rows of the table in the remarks above, for one flag.</summary>
    private static IEnumerable<Case> BadValues(Flag flag)
    {
        string[] needs = flag.Needs ?? [];
        Case With(string label, string value) => new(label, [.. needs, flag.Name, value], flag.Name);
        bool number = flag.Kind != Kind.Text;
        if (number)
        {
            yield return With("negative", "-5");
            if (flag.ZeroInvalid || flag.Kind is Kind.List or Kind.Name or Kind.Switch)
            {
                yield return With("zero", "0");
            }

            yield return With("huge", flag.Huge ?? (flag.Kind is Kind.Real or Kind.Duration or Kind.Interval ? "1e999"
                : flag.Max == long.MaxValue ? "99999999999999999999" : (flag.Max + 1).ToString(CultureInfo.InvariantCulture)));
            yield return With("NaN", "NaN");
            yield return With("infinity", "Infinity");
            yield return With("not a number", "abc");
        }

        yield return With("empty", "");
        if (flag.Kind != Kind.Switch)
        {
            yield return new("missing", [.. needs, flag.Name], flag.Name);
        }
    }

    [TestCaseSource(nameof(Flags))]
    public void Exits_64_with_one_line_naming_the_flag_and_creates_nothing(string programName, Case[] cases)
    {
        Program program = s_table.Select(t => t.Program).Append(s_launcher).First(p => p.Name == programName);
        string[] command = program.Command();
        var results = new (Case Case, int ExitCode, string Stdout, string Stderr, string[] Created)[cases.Length];
        Parallel.For(0, cases.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            Case c = cases[i];
            using var scratch = new TempDir();
            string[] context = Without(program.Context, [.. c.Args, .. c.Drop ?? []]);
            using var job = Job.Start(command[0], [.. command[1..], .. context, .. c.Args], workingDirectory: scratch.Path);
            int exit = job.WaitForExit(TimeSpan.FromSeconds(60));
            results[i] = (c, exit, job.Stdout, job.Stderr, Directory.GetFileSystemEntries(scratch.Path));
        });

        using (Assert.EnterMultipleScope())
        {
            foreach (var (c, exitCode, stdout, stderr, created) in results)
            {
                string where = $"{program.Name} {string.Join(' ', c.Args.Select(a => a.Length == 0 ? "''" : a))} ({c.Label})";
                string[] lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
                Assert.That(exitCode, Is.EqualTo(64), $"{where}: exit code\n{stderr}");
                Assert.That(lines, Has.Length.EqualTo(1), $"{where}: one line on stderr\n{stderr}");
                Assert.That(lines.FirstOrDefault(), Does.Contain(c.Flag).And.Contain(c.Contains ?? c.Flag), $"{where}: the line names the flag");
                Assert.That(stdout, Is.Empty, $"{where}: stdout");
                Assert.That(created, Is.Empty, $"{where}: created something");
            }
        }
    }

    /// <summary>The context arguments less any flag (and its value) that the case gives itself.</summary>
    private static string[] Without(string[] context, string[] caseArgs)
    {
        var result = new List<string>();
        for (int i = 0; i < context.Length; i++)
        {
            bool hasValue = i + 1 < context.Length && !context[i + 1].StartsWith("--", StringComparison.Ordinal);
            if (!caseArgs.Contains(context[i]))
            {
                result.Add(context[i]);
                if (hasValue)
                {
                    result.Add(context[i + 1]);
                }
            }

            if (hasValue)
            {
                i++;
            }
        }

        return [.. result];
    }
}

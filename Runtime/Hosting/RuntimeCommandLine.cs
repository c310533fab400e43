using System.CommandLine;
using System.CommandLine.Parsing;
using Coordinated.Checkpointing;

namespace Coordinated.Hosting;

/// <summary>
/// The runtime's command-line flags, added to an app's <see cref="Command"/> so that <c>--help</c> lists them with
/// the app's own, and bound to <see cref="CheckpointOptions"/>. Bad values are parse errors (exit 64).
/// </summary>
public sealed class RuntimeCommandLine
{
    private readonly Option<string> _directory = new("--checkpoint-dir")
    {
        Description = "Directory for snapshots, the 'latest' pointer and metrics.jsonl (created if missing; one run at a time)",
        DefaultValueFactory = _ => "checkpoints",
        HelpName = "DIR",
        CustomParser = OptionParsers.NonEmpty,
    };

    private readonly Option<long> _everySteps = new("--checkpoint-every-steps")
    {
        Description = "Checkpoint every K completed steps (0 = off)",
        HelpName = "K",
        CustomParser = r => OptionParsers.Count(r, min: 0),
    };

    private readonly Option<double> _everySeconds = new("--checkpoint-every-seconds")
    {
        Description = "Checkpoint every T of wall-clock time: seconds, or with a unit (90s, 15m, 2h); 0 = off",
        HelpName = "T",
        CustomParser = r => OptionParsers.Duration(r, allowZero: true),
    };

    private readonly Option<string?> _interval = new("--checkpoint-interval")
    {
        Description = "'auto': choose the interval from Daly's formula with the measured checkpoint cost and --mtbf; or a duration (same as --checkpoint-every-seconds)",
        HelpName = "auto|T",
        CustomParser = ParseInterval,
    };

    private readonly Option<double> _mtbf = new("--mtbf")
    {
        Description = "Mean time between failures (preemptions), for --checkpoint-interval auto (seconds or 30m, 6h ...)",
        HelpName = "T",
        CustomParser = r => OptionParsers.Duration(r, allowZero: false),
    };

    private readonly Option<double> _maxRuntime = new("--max-runtime")
    {
        Description = "Checkpoint and stop (exit 75) once this much wall time has passed (like GROMACS -maxh); 0 = off",
        HelpName = "T",
        CustomParser = r => OptionParsers.Duration(r, allowZero: true),
    };

    private readonly Option<double> _walltimeReserve = new("--walltime-reserve")
    {
        Description = "Inside a Slurm job with a time limit: checkpoint and stop when less than this remains; 0 = off",
        HelpName = "T",
        DefaultValueFactory = _ => 120,
        CustomParser = r => OptionParsers.Duration(r, allowZero: true),
    };

    private readonly Option<int> _maxRequeues = new("--max-requeues")
    {
        Description = "Refuse to resume once SLURM_RESTART_COUNT exceeds this (stops endless requeue loops; Slurm's MaxBatchRequeue defaults to 5)",
        HelpName = "N",
        DefaultValueFactory = _ => 5,
        CustomParser = r => OptionParsers.Count32(r, min: 0),
    };

    private readonly Option<int> _keep = new("--keep")
    {
        Description = "Committed snapshots to keep; older ones are deleted only after a newer one is committed",
        HelpName = "G",
        DefaultValueFactory = _ => 2,
        CustomParser = r => OptionParsers.Count32(r, min: 1),
    };

    private readonly Option<bool> _fresh = new("--fresh")
    {
        Description = "Do not resume: start at step 0; existing snapshots are replaced once the first new one is committed",
    };

    private readonly Option<string> _signals = new("--stop-signals")
    {
        Description = "Signals that mean 'checkpoint and stop', comma-separated, or 'none'",
        DefaultValueFactory = _ => string.Join(",", StopSignals.Defaults),
        HelpName = "LIST",
        CustomParser = ParseSignals,
    };

    private readonly Option<CheckpointErrorPolicy> _onError = new("--on-checkpoint-error")
    {
        Description = "When a periodic checkpoint fails (disk full ...): warn and continue, or stop with exit 74",
        DefaultValueFactory = _ => CheckpointErrorPolicy.Continue,
        CustomParser = OptionParsers.Name<CheckpointErrorPolicy>,
    };

    private readonly Option<bool> _async = new("--checkpoint-async")
    {
        Description = "Write periodic checkpoints from an I/O thread while the computation goes on (state copied at the step boundary; needs one extra copy of the state in memory)",
    };

    private readonly Option<bool> _xdmf = new("--checkpoint-xdmf")
    {
        Description = "Write an XDMF sidecar (ckpt-<step>.xdmf) next to every committed snapshot, so ParaView and VisIt open it as points",
    };

    private readonly Option<string?> _localDirectory = new("--checkpoint-local-dir")
    {
        Description = "Node-local directory for the local checkpoint level (tmpfs, local SSD, burst buffer); %N expands to the node name, %j to SLURM_JOB_ID (or 'nojob'). Each node keeps its ranks' part there and a copy of its partner node's part (docs/MULTILEVEL.md)",
        HelpName = "DIR",
        CustomParser = OptionParsers.NonEmpty,
    };

    private readonly Option<int> _globalEvery = new("--global-every")
    {
        Description = "With --checkpoint-local-dir: every K-th checkpoint is also written to the global level (--checkpoint-dir); stops and the final checkpoint always are",
        HelpName = "K",
        DefaultValueFactory = _ => 10,
        CustomParser = r => OptionParsers.Count32(r, min: 1),
    };

    private readonly Option<bool> _noPartner = new("--no-partner")
    {
        Description = "With --checkpoint-local-dir: keep local copies only, no copy on a partner node",
    };

    private readonly Option<bool> _quiet = new("--quiet")
    {
        Description = "Do not print the runtime's progress lines (warnings and errors still go to stderr)",
    };

    private RuntimeCommandLine()
    {
    }

    /// <summary>Adds the runtime flags to <paramref name="command"/>.</summary>
    public static RuntimeCommandLine AddTo(Command command)
    {
        var cli = new RuntimeCommandLine();
        foreach (Option option in cli.All)
        {
            command.Options.Add(option);
        }

        command.Validators.Add(r =>
        {
            string? interval = null;
            if (r.GetResult(cli._interval) is not null && !OptionParsers.TryGet(r, cli._interval, out interval))
            {
                return; // a bad --checkpoint-interval has its own error
            }

            bool auto = string.Equals(interval, "auto", StringComparison.OrdinalIgnoreCase);
            if (interval is not null && r.GetResult(cli._everySeconds) is { Implicit: false })
            {
                r.AddError("--checkpoint-interval and --checkpoint-every-seconds both set the wall-clock interval; give only one");
            }

            if (auto && r.GetResult(cli._mtbf) is null)
            {
                r.AddError("--checkpoint-interval auto needs --mtbf (the mean time between failures, e.g. --mtbf 6h)");
            }

            if (!auto && r.GetResult(cli._mtbf) is not null)
            {
                r.AddError("--mtbf is used only with --checkpoint-interval auto");
            }

            bool local = r.GetResult(cli._localDirectory) is not null;
            if (!local && r.GetResult(cli._globalEvery) is { Implicit: false })
            {
                r.AddError("--global-every is used only with --checkpoint-local-dir (without a local level every checkpoint is global)");
            }

            if (!local && r.GetResult(cli._noPartner) is not null)
            {
                r.AddError("--no-partner is used only with --checkpoint-local-dir");
            }
        });
        return cli;
    }

    private IEnumerable<Option> All =>
        [_directory, _everySteps, _everySeconds, _interval, _mtbf, _maxRuntime, _walltimeReserve, _maxRequeues, _keep, _fresh, _signals, _onError, _async, _xdmf, _localDirectory, _globalEvery, _noPartner, _quiet];

    /// <summary>The options the user gave (after a parse without errors).</summary>
    public CheckpointOptions Bind(ParseResult result)
    {
        string? interval = result.GetValue(_interval);
        bool auto = string.Equals(interval, "auto", StringComparison.OrdinalIgnoreCase);
        string signals = result.GetValue(_signals) ?? "";
        return new CheckpointOptions
        {
            Directory = result.GetValue(_directory) ?? "checkpoints",
            EverySteps = result.GetValue(_everySteps),
            EverySeconds = interval is not null && !auto ? OptionParsers.TryParseDuration(interval)!.Value : result.GetValue(_everySeconds),
            AutoInterval = auto,
            MtbfSeconds = result.GetValue(_mtbf),
            MaxRuntimeSeconds = result.GetValue(_maxRuntime),
            WalltimeReserveSeconds = result.GetValue(_walltimeReserve),
            MaxRequeues = result.GetValue(_maxRequeues),
            Keep = result.GetValue(_keep),
            Fresh = result.GetValue(_fresh),
            StopSignals = signals.Trim().Equals("none", StringComparison.OrdinalIgnoreCase)
                ? []
                : signals.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            OnCheckpointError = result.GetValue(_onError),
            Async = result.GetValue(_async),
            Xdmf = result.GetValue(_xdmf),
            LocalDirectory = result.GetValue(_localDirectory),
            GlobalEvery = result.GetValue(_globalEvery),
            NoPartner = result.GetValue(_noPartner),
            Quiet = result.GetValue(_quiet),
        };
    }

    /// <summary>'auto' or a duration &gt;= 0.</summary>
    private static string ParseInterval(ArgumentResult r)
    {
        string text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
        if (text.Trim().Equals("auto", StringComparison.OrdinalIgnoreCase))
        {
            return "auto";
        }

        if (OptionParsers.TryParseDuration(text) is not >= 0)
        {
            r.AddError($"--checkpoint-interval: '{text}' is neither 'auto' nor a duration >= 0 such as 600, 90s, 15m or 2h");
        }

        return text;
    }

    /// <summary>A comma-separated list of known signal names or numbers, or 'none'.</summary>
    private static string ParseSignals(ArgumentResult r)
    {
        string text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
        string[] names = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (names.Length == 0)
        {
            r.AddError("--stop-signals: an empty list is not allowed (use 'none' to disable the stop signals)");
        }
        else if (!text.Trim().Equals("none", StringComparison.OrdinalIgnoreCase) && names.FirstOrDefault(n => StopSignals.Parse(n) is null) is { } unknown)
        {
            r.AddError($"--stop-signals: unknown signal '{unknown}' (use TERM, INT, USR1, USR2, HUP, QUIT, or none)");
        }

        return text;
    }
}

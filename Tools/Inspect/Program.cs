using System.CommandLine;
using Coordinated;
using Coordinated.Inspect;

// inspect: what is in a checkpoint directory, whether it verifies, what changed between two snapshots, what the
// checkpoints cost, and XDMF sidecars for ParaView. A plain process: snapshots are read with PureHDF (managed), so
// neither MPI nor the native HDF5 library is needed. See docs/INSPECT.md.

var json = new Option<bool>("--json") { Description = "Machine-readable JSON on stdout instead of tables", Recursive = true };

var dirArgument = new Argument<string?>("DIR") { Description = "A checkpoint directory", Arity = ArgumentArity.ZeroOrOne };
var verifyPath = new Argument<string>("PATH") { Description = "A checkpoint directory (every committed snapshot) or one snapshot file" };
var diffA = new Argument<string>("A") { Description = "A snapshot file, or a directory (its newest committed snapshot)" };
var diffB = new Argument<string>("B") { Description = "The snapshot to compare it with (file or directory)" };
var metricsDir = new Argument<string>("DIR") { Description = "A checkpoint directory with metrics.jsonl (or the metrics.jsonl file)" };
var png = new Option<string?>("--png") { Description = "Also plot the checkpoint cost over the run into this PNG", HelpName = "FILE" };
var exportPath = new Argument<string>("PATH") { Description = "A snapshot file, or a directory (every committed snapshot)" };
var xdmf = new Option<bool>("--xdmf") { Description = "Write an XDMF sidecar (ckpt-<step>.xdmf) next to the snapshot" };

var verify = new Command("verify",
    "Check every checksum of every dataset and the commit invariants; name each bad dataset and element range. " +
    "Exit 0 when everything verifies, 65 when something is damaged, 64 for a path that is not a checkpoint directory or snapshot.")
{
    verifyPath,
};
var diff = new Command("diff",
    "Compare two snapshots dataset by dataset: bitwise equal or not, the first differing element, the largest absolute and " +
    "relative difference (did my restart change anything?). Exit 0 when every dataset and parameter is bitwise equal, 1 when something differs.")
{
    diffA, diffB,
};
var metrics = new Command("metrics",
    "Summarise metrics.jsonl: checkpoint cost (median and p95 by trigger), agreement cost, restart cost and the interval between checkpoints.")
{
    metricsDir, png,
};
var export = new Command("export",
    "Write an XDMF sidecar that lets ParaView and VisIt open a snapshot as points (from /state/pos) with its other " +
    "per-particle datasets (vel as vectors), straight from the HDF5 file. The runtime flag --checkpoint-xdmf writes one next to every snapshot.")
{
    exportPath, xdmf,
};

var root = new RootCommand(
    "inspect: look into a Coordinated checkpoint directory. 'inspect DIR' lists the snapshots (step, time, app, ranks, size, " +
    "trigger, level, latest, verifies), leftovers, what a restart would pick and why, and the app's parameters. " +
    "Exit codes: 0 fine, 1 diff found differences, 64 bad arguments or input, 65 damaged data.")
{
    dirArgument, json, verify, diff, metrics, export,
};

var output = Output.Standard();
root.SetAction(r => Commands.Directory(output, r.GetValue(dirArgument), r.GetValue(json)));
verify.SetAction(r => Commands.Verify(output, r.GetValue(verifyPath)!, r.GetValue(json)));
diff.SetAction(r => Commands.Diff(output, r.GetValue(diffA)!, r.GetValue(diffB)!, r.GetValue(json)));
metrics.SetAction(r => Commands.Metrics(output, r.GetValue(metricsDir)!, r.GetValue(png), r.GetValue(json)));
export.SetAction(r => Commands.Export(output, r.GetValue(exportPath)!, r.GetValue(xdmf), r.GetValue(json)));

var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    foreach (var error in parse.Errors)
    {
        Console.Error.WriteLine($"inspect: error: {error.Message}");
    }

    Console.Error.WriteLine("Add --help to see the subcommands and options.");
    return ExitCodes.Usage;
}

try
{
    return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (UsageException e)
{
    Console.Error.WriteLine($"inspect: error: {e.Message}");
    return ExitCodes.Usage;
}
catch (SnapshotException e)
{
    Console.Error.WriteLine($"inspect: error: {e.Message}");
    return e.NotASnapshot ? ExitCodes.Usage : ExitCodes.DataError;
}
catch (Exception e) when (e is IOException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"inspect: error: {e.Message} (check the path and its permissions)");
    return ExitCodes.Failure;
}

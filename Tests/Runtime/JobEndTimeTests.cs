using System.Globalization;
using Coordinated.Tests.Infrastructure;

namespace Coordinated.Tests.Runtime;

/// <summary>
/// The Slurm job's end time is read off the step path: a hung squeue does not stall the ranks, and a changed time
/// limit (scontrol update TimeLimit=) is picked up by a later read. A fake squeue on PATH plays slurmctld.
/// </summary>
[NonParallelizable] // oversubscribed ranks
public class JobEndTimeTests
{
    [Test]
    public void A_hung_squeue_does_not_stall_the_steps_and_a_later_read_sees_the_new_limit()
    {
        using var dir = new TempDir();
        string fake = dir["fake"];
        Directory.CreateDirectory(fake);
        File.WriteAllText(Path.Combine(fake, "hang"), "");
        File.WriteAllText(Path.Combine(fake, "end"), EndIn(TimeSpan.FromDays(1)));
        string squeue = Path.Combine(fake, "squeue");
        File.WriteAllText(squeue, $$"""
            #!/bin/sh
            echo "$@" >> '{{fake}}/calls'
            if [ -e '{{fake}}/hang' ]; then exec sleep 600; fi
            if [ -e '{{fake}}/fail' ]; then echo 'slurm_load_jobs error: Unable to contact slurm controller' >&2; exit 1; fi
            cat '{{fake}}/end'
            """);
        File.SetUnixFileMode(squeue, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        // Only the ranks see the job (mpirun itself must not think it runs inside Slurm).
        using var job = Job.Start("mpirun",
            ["--quiet", "-n", "2", "--oversubscribe", "--bind-to", "none",
             "env", "SLURM_JOB_ID=4242", $"PATH={fake}:{Environment.GetEnvironmentVariable("PATH")}",
             "COORDINATED_SLURM_REFRESH=0.5", "COORDINATED_SLURM_TIMEOUT=1",
             "dotnet", Repo.CounterDll, "--to", "1000000", "--step-seconds", "0.01", "--walltime-reserve", "60",
             "--checkpoint-dir", dir["ckpt"], "--report-every", "10"]);

        // squeue hangs; the ranks keep stepping, and the timed-out query is reported.
        job.WaitForLine(@"squeue did not answer within 1 s");
        Assert.That(File.ReadAllText(Path.Combine(fake, "calls")), Does.Contain("-j 4242 -o %e"));
        int stepsBefore = LastStep(job);
        job.WaitForLine($@"^counter: step {stepsBefore + 50}/");

        // slurmctld answers with an error: reported, and the steps still go on.
        File.WriteAllText(Path.Combine(fake, "fail"), "");
        File.Delete(Path.Combine(fake, "hang"));
        job.WaitForLine(@"squeue failed \(exit 1: slurm_load_jobs error: Unable to contact slurm controller\)");
        stepsBefore = LastStep(job);
        job.WaitForLine($@"^counter: step {stepsBefore + 20}/");

        // slurmctld answers again, with a limit that ends in 30 s (less than the 60 s reserve): stop with a checkpoint.
        File.WriteAllText(Path.Combine(fake, "end"), EndIn(TimeSpan.FromSeconds(30)));
        File.Delete(Path.Combine(fake, "fail"));
        job.ExpectExit(75);
        Assert.That(job.Stdout, Does.Match(@"stopping after checkpoint of step \d+ \(Slurm time limit near: \d+ s left, less than --walltime-reserve\)"));
        Assert.That(Directory.GetFiles(dir["ckpt"], "ckpt-*.h5"), Has.Length.EqualTo(1));
    }

    /// <summary>squeue's %e: local time without a zone.</summary>
    private static string EndIn(TimeSpan from) => (DateTime.Now + from).ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture) + "\n";

    private static int LastStep(Job job) =>
        System.Text.RegularExpressions.Regex.Matches(job.Stdout, @"^counter: step (\d+)/", System.Text.RegularExpressions.RegexOptions.Multiline)
            .Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).DefaultIfEmpty(0).Max();
}

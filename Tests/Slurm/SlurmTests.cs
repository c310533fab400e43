using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Coordinated.Tests.Infrastructure;

namespace Coordinated.Tests.Slurm;

/// <summary>
/// NBody against a real (private, one-node) Slurm: srun launch, preemption by a high-priority job, the USR1 warning
/// to the batch shell, requeue with SLURM_RESTART_COUNT, the requeue limit, the wall-time reserve and scancel
/// (a checkpoint, and no requeue). Every resumed
/// run must end bit for bit where an uninterrupted run ends.
/// </summary>
[Category("Slurm")]
[NonParallelizable] // one cluster, and oversubscribed ranks
public class SlurmTests
{
    private const int Particles = 1500;
    private const long Steps = 4000;
    private static readonly TimeSpan s_run = TimeSpan.FromSeconds(180);
    private TempDir _shared = null!;
    private byte[] _referencePos = [];
    private byte[] _referenceVel = [];

    private static string[] NBodyArgs(string checkpointDir, string output, params string[] more) =>
        ["--particles", Particles.ToString(CultureInfo.InvariantCulture), "--steps", Steps.ToString(CultureInfo.InvariantCulture),
         "--dt", "0.0005", "--seed", "11", "--report-every", "500", "--checkpoint-dir", checkpointDir, "--output", output, .. more];

    [OneTimeSetUp]
    public void UninterruptedReferenceUnderMpirun()
    {
        SlurmCluster.RequireUp();
        _shared = new TempDir();
        using var job = Job.Mpi(4, Repo.NBodyDll, NBodyArgs(_shared["ref-ckpt"], _shared["ref.h5"]));
        job.ExpectExit(0);
        _referencePos = H5Py.DatasetBytes(_shared["ref.h5"], "/state/pos");
        _referenceVel = H5Py.DatasetBytes(_shared["ref.h5"], "/state/vel");
        Assert.That(_referencePos, Has.Length.EqualTo(Particles * 3 * 8));
    }

    [OneTimeTearDown]
    public void RemoveReference() => _shared?.Dispose();

    [SetUp]
    public void ClusterIsUp() => SlurmCluster.RequireUp();

    private void AssertSameBitsAsReference(string file)
    {
        Assert.That(File.Exists(file), Is.True, $"{file} was not written");
        Assert.That(H5Py.DatasetBytes(file, "/state/pos"), Is.EqualTo(_referencePos), "/state/pos differs from the uninterrupted run");
        Assert.That(H5Py.DatasetBytes(file, "/state/vel"), Is.EqualTo(_referenceVel), "/state/vel differs from the uninterrupted run");
    }

    /// <summary>A batch script like Apps/NBody/nbody.sbatch: requeueable, appending output, exec mpi-run.sh.</summary>
    private static string BatchScript(IEnumerable<string> appArgs) => $$"""
        #!/bin/bash
        #SBATCH --ntasks=4
        #SBATCH --requeue
        #SBATCH --open-mode=append
        echo "job $SLURM_JOB_ID starting (restart ${SLURM_RESTART_COUNT:-0}) SLURM_STEP_ID='${SLURM_STEP_ID:-}'"
        exec {{Repo.Root}}/mpi-run.sh {{Repo.NBodyDll}} {{string.Join(' ', appArgs)}}
        """;

    [Test]
    public void Srun_n_4_runs_NBody_inside_an_allocation()
    {
        using var dir = new TempDir();
        string script = $"""
            #!/bin/bash
            #SBATCH --ntasks=4
            srun --mpi=pmix -n 4 dotnet {Repo.NBodyDll} {string.Join(' ', NBodyArgs(dir["ckpt"], dir["out.h5"]))}
            echo "srun exit $?"
            """;
        int job = SlurmCluster.Sbatch(dir.Path, "srun4", script, "low");
        string output = SlurmCluster.OutputFile(dir.Path, "srun4");
        var info = SlurmCluster.WaitFor(job, j => j.IsFinal, "end", s_run, output);
        string text = File.ReadAllText(output);
        Assert.That(info.State, Is.EqualTo("COMPLETED"), () => SlurmCluster.Describe(job, output));
        Assert.That(text, Does.Contain($"on 4 rank(s)").And.Contain($"finished at step {Steps}").And.Contain("srun exit 0"));
        AssertSameBitsAsReference(dir["out.h5"]);
    }

    [Test]
    public void Preempted_low_job_checkpoints_in_grace_time_is_requeued_and_finishes_bitwise_identical()
    {
        StopRequeueResumeFinish("preempt", "SIGTERM", (dir, job) =>
        {
            string high = """
                #!/bin/bash
                #SBATCH --ntasks=8
                echo "high job ran"
                """;
            int highJob = SlurmCluster.Sbatch(dir, "high", high, "high");
            return () => SlurmCluster.WaitFor(highJob, j => j.State == "COMPLETED", "completion of the high job", s_run, SlurmCluster.OutputFile(dir, "high"));
        });
    }

    [Test]
    public void Usr1_to_the_batch_shell_only_checkpoints_is_requeued_and_finishes_bitwise_identical()
    {
        StopRequeueResumeFinish("usr1", "SIGUSR1", (_, job) =>
        {
            SlurmCluster.Client("scancel", "--batch", "--signal=USR1", job.ToString(CultureInfo.InvariantCulture));
            return () => { };
        });
    }

    /// <summary>
    /// Runs NBody as a low-partition batch job, applies <paramref name="stop"/> once the first periodic snapshot is
    /// committed, and checks: one coordinated snapshot and exit 75 well inside GraceTime, requeued by mpi-run.sh,
    /// the second run reports restart 1 and resumes from that snapshot, and the result is bitwise the reference.
    /// </summary>
    private void StopRequeueResumeFinish(string name, string signal, Func<string, int, Action> stop)
    {
        using var dir = new TempDir();
        string output = SlurmCluster.OutputFile(dir.Path, name);
        int job = SlurmCluster.Sbatch(dir.Path, name, BatchScript(NBodyArgs(dir["ckpt"], dir["out.h5"], "--checkpoint-every-steps", "500")), "low");
        SlurmCluster.WaitForOutput(job, output, @"checkpoint step 500 \(every-steps\)", s_run);

        DateTime stopAt = DateTime.UtcNow;
        Action afterStop = stop(dir.Path, job);
        var pending = SlurmCluster.WaitFor(job, j => j.State == "PENDING", "requeue", TimeSpan.FromSeconds(SlurmCluster.GraceSeconds + 10), output);
        double toPending = (DateTime.UtcNow - stopAt).TotalSeconds;
        string first = File.ReadAllText(output);
        var stopped = Regex.Match(first, $@"stopping after checkpoint of step (\d+) \(signal {signal}\)");
        Assert.That(stopped.Success, Is.True, () => $"no coordinated stop on {signal}.\n{SlurmCluster.Describe(job, output)}");
        Assert.That(first, Does.Contain($"mpi-run.sh: checkpoint committed; job {job} requeued (restart 1 of at most 5)"));
        Assert.That(first, Does.Contain("(restart 0) SLURM_STEP_ID=''"), "the batch shell must not look like a step to mpi-run.sh");
        Assert.That(pending.Restarts, Is.EqualTo(1));
        Assert.That(toPending, Is.LessThan(SlurmCluster.GraceSeconds), "the stop and requeue must finish inside GraceTime");
        double toCommit = (SignalCheckpointTime(dir["ckpt"]) - stopAt).TotalSeconds;
        TestContext.Progress.WriteLine(FormattableString.Invariant(
            $"{name}: {signal} request -> snapshot committed {toCommit:F2} s, -> job requeued (PENDING) {toPending:F2} s"));

        afterStop();
        SlurmCluster.StartNow(job, output);
        var done = SlurmCluster.WaitFor(job, j => j.IsFinal, "end of the resumed run", s_run, output);
        string all = File.ReadAllText(output);
        Assert.That(done.State, Is.EqualTo("COMPLETED"), () => SlurmCluster.Describe(job, output));
        Assert.That(done.ExitCode, Is.EqualTo("0:0"));
        Assert.That(all, Does.Contain($"job {job} starting (restart 1)"));
        Assert.That(all, Does.Contain($"resumed from step {stopped.Groups[1].Value} (restart 1)"));
        Assert.That(all, Does.Contain($"finished at step {Steps}"));
        AssertSameBitsAsReference(dir["out.h5"]);
    }

    [Test]
    public void Scancel_stops_with_a_checkpoint_and_the_job_stays_cancelled()
    {
        using var dir = new TempDir();
        string output = SlurmCluster.OutputFile(dir.Path, "cancel");
        int job = SlurmCluster.Sbatch(dir.Path, "cancel", BatchScript(NBodyArgs(dir["ckpt"], dir["out.h5"], "--checkpoint-every-steps", "500")), "low");
        SlurmCluster.WaitForOutput(job, output, @"checkpoint step 500 \(every-steps\)", s_run);

        DateTime stopAt = DateTime.UtcNow;
        SlurmCluster.Client("scancel", job.ToString(CultureInfo.InvariantCulture));
        var done = SlurmCluster.WaitFor(job, j => j.IsFinal || j.State == "PENDING", "end after scancel", s_run, output);
        double toEnd = (DateTime.UtcNow - stopAt).TotalSeconds;
        Assert.That(done.State, Is.EqualTo("CANCELLED"), () => SlurmCluster.Describe(job, output));
        Assert.That(done.Restarts, Is.Zero, "a cancelled job must not be requeued");
        var said = SlurmCluster.WaitForOutput(job, output, $@"mpi-run.sh: job {job} cancelled: not requeued; the newest snapshot is step (\d+) \((\S+)\)", s_run);
        string text = File.ReadAllText(output);
        Assert.That(text, Does.Not.Contain("requeued (restart"));
        var stopped = Regex.Match(text, @"stopping after checkpoint of step (\d+) \(signal SIGTERM\)");
        Assert.That(stopped.Success, Is.True, () => $"no coordinated stop on SIGTERM.\n{SlurmCluster.Describe(job, output)}");
        Assert.That(said.Groups[1].Value, Is.EqualTo(stopped.Groups[1].Value), "the message names the snapshot the stop committed");
        Assert.That(said.Groups[2].Value, Is.EqualTo(Path.Combine(dir["ckpt"], $"ckpt-{long.Parse(stopped.Groups[1].Value, CultureInfo.InvariantCulture):D9}.h5")));
        Assert.That(File.Exists(said.Groups[2].Value), Is.True);
        TestContext.Progress.WriteLine(FormattableString.Invariant(
            $"scancel: request -> snapshot committed {(SignalCheckpointTime(dir["ckpt"]) - stopAt).TotalSeconds:F2} s, -> job CANCELLED and seen {toEnd:F2} s"));
    }

    [Test]
    public void Preemption_without_grace_time_checkpoints_and_is_requeued_once_by_Slurm()
    {
        // GraceTime=0 is Slurm's default: the job is killed (TERM, KillWait, KILL) and requeued by Slurm at once.
        string low = "PartitionName=low";
        SlurmCluster.Client("scontrol", "update", low, "GraceTime=0");
        using var dir = new TempDir();
        string output = SlurmCluster.OutputFile(dir.Path, "nograce");
        int job = SlurmCluster.Sbatch(dir.Path, "nograce", BatchScript(NBodyArgs(dir["ckpt"], dir["out.h5"], "--checkpoint-every-steps", "500")), "low");
        try
        {
            SlurmCluster.WaitForOutput(job, output, @"checkpoint step 500 \(every-steps\)", s_run);
            SlurmCluster.Sbatch(dir.Path, "high", "#!/bin/bash\n#SBATCH --ntasks=8\necho high job ran\n", "high");
            var pending = SlurmCluster.WaitFor(job, j => j.State == "PENDING", "requeue by Slurm", s_run, output);
            string text = File.ReadAllText(output);
            Assert.That(pending.Restarts, Is.EqualTo(1), "requeued once");
            Assert.That(text, Does.Match(@"stopping after checkpoint of step \d+ \(signal SIGTERM\)"), () => SlurmCluster.Describe(job, output));
            Assert.That(text, Does.Contain($"mpi-run.sh: checkpoint committed; Slurm has already requeued job {job}"));
            Assert.That(text, Does.Not.Contain("was refused").And.Not.Contain("requeued (restart"), "no second requeue");
        }
        finally
        {
            SlurmCluster.Client("scontrol", "update", low, $"GraceTime={SlurmCluster.GraceSeconds}");
            SlurmCluster.Client("scancel", job.ToString(CultureInfo.InvariantCulture));
        }
    }

    [Test]
    public void Requeue_limit_is_honoured_with_exit_76_and_a_message()
    {
        using var dir = new TempDir();
        string output = SlurmCluster.OutputFile(dir.Path, "limit");
        string jobArgs = string.Join(' ', NBodyArgs(dir["ckpt"], dir["out.h5"], "--checkpoint-every-steps", "500", "--max-requeues", "1"));
        int job = SlurmCluster.Sbatch(dir.Path, "limit", BatchScript([jobArgs]), "low");
        string id = job.ToString(CultureInfo.InvariantCulture);

        SlurmCluster.WaitForOutput(job, output, @"checkpoint step 500 \(every-steps\)", s_run);
        SlurmCluster.Client("scancel", "--batch", "--signal=USR1", id);
        SlurmCluster.StartNow(job, output);
        // NBody's header of the resumed run comes after start-up: a signal before it would stop during start-up.
        SlurmCluster.WaitForOutput(job, output, @"nbody: .* step [1-9]\d* -> ", s_run);
        SlurmCluster.Client("scancel", "--batch", "--signal=USR1", id);

        var done = SlurmCluster.WaitFor(job, j => j.IsFinal, "end after the second stop", s_run, output);
        string all = File.ReadAllText(output);
        Assert.That(done.State, Is.EqualTo("FAILED"), () => SlurmCluster.Describe(job, output));
        Assert.That(done.ExitCode, Is.EqualTo("76:0"));
        Assert.That(done.Restarts, Is.EqualTo(1), "requeued once, not twice");
        Assert.That(all, Does.Contain($"mpi-run.sh: not requeueing job {job}: it has been requeued 1 times (limit 1"));
        Assert.That(Regex.Matches(all, @"stopping after checkpoint of step \d+ \(signal SIGUSR1\)"), Has.Count.EqualTo(2));
    }

    [Test]
    public void Refused_requeue_says_what_happened_and_what_to_do()
    {
        using var dir = new TempDir();
        string output = SlurmCluster.OutputFile(dir.Path, "norequeue");
        int job = SlurmCluster.Sbatch(dir.Path, "norequeue", BatchScript(NBodyArgs(dir["ckpt"], dir["out.h5"], "--checkpoint-every-steps", "500")), "low", "--no-requeue");
        SlurmCluster.WaitForOutput(job, output, @"checkpoint step 500 \(every-steps\)", s_run);
        // TERM to the batch shell only: mpi-run.sh forwards it to srun as USR1, and the ranks report SIGTERM.
        SlurmCluster.Client("scancel", "--batch", "--signal=TERM", job.ToString(CultureInfo.InvariantCulture));
        var done = SlurmCluster.WaitFor(job, j => j.IsFinal, "end after the stop", s_run, output);
        string text = File.ReadAllText(output);
        Assert.That(done.ExitCode, Is.EqualTo("75:0"), () => SlurmCluster.Describe(job, output));
        Assert.That(text, Does.Match(@"stopping after checkpoint of step \d+ \(signal SIGTERM\)"), "the signal that reached mpi-run.sh, through srun");
        Assert.That(done.Restarts, Is.Zero);
        Assert.That(text, Does.Contain($"mpi-run.sh: checkpoint committed, but 'scontrol requeue {job}' was refused: Requested operation is presently disabled"));
        Assert.That(text, Does.Contain("resubmit the same job script to resume"));
    }

    [Test]
    public void Walltime_reserve_stops_with_a_checkpoint_before_the_time_limit_and_requeues()
    {
        using var dir = new TempDir();
        string output = SlurmCluster.OutputFile(dir.Path, "walltime");
        // --time=1: one minute. With 45 s reserved the run must stop by itself about 15 s after the job starts.
        string[] args = ["--particles", "1500", "--steps", "1000000", "--checkpoint-dir", dir["ckpt"], "--walltime-reserve", "45"];
        int job = SlurmCluster.Sbatch(dir.Path, "walltime", BatchScript(args), "low", "--time=1");
        try
        {
            var pending = SlurmCluster.WaitFor(job, j => j.State == "PENDING" && j.Restarts == 1, "requeue after the walltime stop", TimeSpan.FromSeconds(90), output);
            string text = File.ReadAllText(output);
            Assert.That(text, Does.Match(@"stopping after checkpoint of step \d+ \(Slurm time limit near"));
            Assert.That(text, Does.Contain($"job {job} requeued (restart 1 of at most 5)"));
            Assert.That(pending.Restarts, Is.EqualTo(1));
        }
        finally
        {
            // The requeued million-step job must not stay queued for the tests after this one.
            SlurmCluster.Client("scancel", job.ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>When the snapshot taken on the stop signal was committed (metrics.jsonl, written after the commit).</summary>
    private static DateTime SignalCheckpointTime(string checkpointDir)
    {
        foreach (string line in File.ReadLines(Path.Combine(checkpointDir, "metrics.jsonl")).Reverse())
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            if (root.GetProperty("event").GetString() == "checkpoint" && root.GetProperty("trigger").GetString() == "signal")
            {
                return root.GetProperty("time_utc").GetDateTime().ToUniversalTime();
            }
        }

        Assert.Fail($"no signal checkpoint in {checkpointDir}/metrics.jsonl");
        return default;
    }
}

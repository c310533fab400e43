using Coordinated.Tests.Infrastructure;

namespace Coordinated.Tests.NBody;

/// <summary>
/// NBody end to end under mpirun: the final /state/pos and /state/vel are compared byte for byte (as h5py reads them)
/// across rank counts and across stops, kills and restarts on other rank counts.
/// </summary>
[NonParallelizable] // oversubscribed ranks
public class NBodyRunTests
{
    private const int Particles = 1000;
    private const long Steps = 6000;
    private TempDir _shared = null!;
    private byte[] _referencePos = [];
    private byte[] _referenceVel = [];

    private static string[] Args(string checkpointDir, long steps = Steps, params string[] more) =>
        ["--particles", Particles.ToString(), "--steps", steps.ToString(), "--dt", "0.0005", "--seed", "7",
         "--report-every", "500", "--checkpoint-dir", checkpointDir, .. more];

    [OneTimeSetUp]
    public void UninterruptedReferenceOnFourRanks()
    {
        _shared = new TempDir();
        using var job = Job.Mpi(4, Repo.NBodyDll, Args(_shared["ref-ckpt"], Steps, "--output", _shared["ref.h5"]));
        job.ExpectExit(0);
        _referencePos = H5Py.DatasetBytes(_shared["ref.h5"], "/state/pos");
        _referenceVel = H5Py.DatasetBytes(_shared["ref.h5"], "/state/vel");
        Assert.That(_referencePos, Has.Length.EqualTo(Particles * 3 * 8));
    }

    [OneTimeTearDown]
    public void RemoveReference() => _shared.Dispose();

    private void AssertSameBitsAsReference(string file)
    {
        Assert.That(H5Py.DatasetBytes(file, "/state/pos"), Is.EqualTo(_referencePos), "/state/pos differs from the uninterrupted 4-rank run");
        Assert.That(H5Py.DatasetBytes(file, "/state/vel"), Is.EqualTo(_referenceVel), "/state/vel differs from the uninterrupted 4-rank run");
    }

    [TestCase(1)]
    [TestCase(3)]
    public void Uninterrupted_run_is_bitwise_identical_on_any_rank_count(int ranks)
    {
        using var dir = new TempDir();
        using var job = Job.Mpi(ranks, Repo.NBodyDll, Args(dir["ckpt"], Steps, "--output", dir["out.h5"]));
        job.ExpectExit(0);
        AssertSameBitsAsReference(dir["out.h5"]);
    }

    [Test]
    public void Sigterm_to_one_rank_then_resume_on_three_ranks_is_bitwise_identical()
    {
        using var dir = new TempDir();
        using (var job = Job.Mpi(4, Repo.NBodyDll, Args(dir["ckpt"])))
        {
            job.WaitForLine(@"^nbody: step 1000/");
            Job.Signal(job.WaitForRanks(4)[3], "TERM");
            job.ExpectExit(75);
        }

        using var resume = Job.Mpi(3, Repo.NBodyDll, Args(dir["ckpt"], Steps, "--output", dir["out.h5"]));
        resume.ExpectExit(0);
        Assert.That(resume.Stdout, Does.Match(@"resumed from step \d+ \(restart 1\)"));
        AssertSameBitsAsReference(dir["out.h5"]);
    }

    [Test]
    public void Kill_9_then_resume_from_the_last_periodic_snapshot_on_two_ranks_is_bitwise_identical()
    {
        using var dir = new TempDir();
        using (var job = Job.Mpi(3, Repo.NBodyDll, Args(dir["ckpt"], Steps, "--checkpoint-every-steps", "700")))
        {
            job.WaitForLine(@"checkpoint step 1400 ");
            job.KillNine();
        }

        using var resume = Job.Mpi(2, Repo.NBodyDll, Args(dir["ckpt"], Steps, "--output", dir["out.h5"]));
        resume.ExpectExit(0);
        Assert.That(resume.Stdout, Does.Match(@"resumed from step (1400|2100|2800|3500|4200|4900|5600) "));
        AssertSameBitsAsReference(dir["out.h5"]);
    }

    [Test]
    public void Async_checkpoints_then_kill_9_then_resume_on_three_ranks_is_bitwise_identical()
    {
        using var dir = new TempDir();
        using (var job = Job.Mpi(4, Repo.NBodyDll, Args(dir["ckpt"], Steps, "--checkpoint-every-steps", "600", "--checkpoint-async")))
        {
            job.WaitForLine(@"checkpoint step 1800 \(every-steps\), async");
            job.KillNine();
        }

        using var resume = Job.Mpi(3, Repo.NBodyDll, Args(dir["ckpt"], Steps, "--checkpoint-every-steps", "600", "--checkpoint-async", "--output", dir["out.h5"]));
        resume.ExpectExit(0);
        Assert.That(resume.Stdout, Does.Match(@"resumed from step (1800|2400|3000|3600|4200|4800|5400) "));
        AssertSameBitsAsReference(dir["out.h5"]);
    }

    [Test]
    public void A_chain_of_stops_on_1_then_4_then_3_ranks_is_bitwise_identical()
    {
        using var dir = new TempDir();
        long[] stopAt = [1500, 3000];
        int[] ranks = [1, 4];
        for (int i = 0; i < stopAt.Length; i++)
        {
            // --max-runtime is not step-exact; the stop file is: the run stops at the next boundary after it appears.
            using var job = Job.Mpi(ranks[i], Repo.NBodyDll, Args(dir["ckpt"], stopAt[i]));
            job.ExpectExit(0);
        }

        using var last = Job.Mpi(3, Repo.NBodyDll, Args(dir["ckpt"], Steps, "--output", dir["out.h5"]));
        last.ExpectExit(0);
        Assert.That(last.Stdout, Does.Contain("resumed from step 3000 (restart 2)"));
        AssertSameBitsAsReference(dir["out.h5"]);
    }

    [Test]
    public void Snapshot_of_another_particle_count_is_refused_with_65()
    {
        using var dir = new TempDir();
        using (var job = Job.Mpi(2, Repo.NBodyDll, Args(dir["ckpt"], 10, "--checkpoint-every-steps", "10")))
        {
            job.ExpectExit(0);
        }

        using var other = Job.Mpi(2, Repo.NBodyDll, ["--particles", "999", "--steps", "20", "--checkpoint-dir", dir["ckpt"]]);
        other.ExpectExit(65);
        Assert.That(other.Stderr, Does.Contain("the snapshot has particles = 1000, this run has particles = 999"));
    }

    [Test]
    public void H5py_reads_the_output_with_its_parameters()
    {
        using var dir = new TempDir();
        using (var job = Job.Mpi(2, Repo.NBodyDll, Args(dir["ckpt"], 20, "--output", dir["out.h5"])))
        {
            job.ExpectExit(0);
        }

        string summary = H5Py.Run(dir["out.h5"], """
            f = h5py.File(path, 'r')
            p = f['params'].attrs
            print(f.attrs['app'], f.attrs['step'], f['state/pos'].shape, f['state/vel'].shape, f['state/mass'].shape,
                  int(p['particles']), float(p['dt']), float(p['softening']), int(p['seed']), p['initial'],
                  round(float(f['scalars'].attrs['time']), 6), round(float(f['state/mass'][()].sum()), 12))
            """);
        Assert.That(summary.Trim(), Is.EqualTo("nbody 20 (1000, 3) (1000, 3) (1000,) 1000 0.0005 0.01 7 plummer 0.01 1.0"));
    }
}

using System.Globalization;
using System.Text.RegularExpressions;
using Coordinated.Tests.Infrastructure;

namespace Coordinated.Tests.MD;

/// <summary>
/// Apps/MD end to end under mpirun (864 atoms, 6^3 fcc cells): the final /state/pos, /state/vel and /state/id are
/// compared byte for byte (as h5py reads them) across rank counts and across stops and restarts on other rank counts.
/// </summary>
[NonParallelizable] // oversubscribed ranks
public class MDRunTests
{
    private const long Steps = 150;
    private TempDir _shared = null!;
    private string _reference = "";
    private string _referenceStdout = "";

    private static string[] Args(string checkpointDir, long steps, params string[] more) =>
        ["--cells", "6", "--steps", steps.ToString(CultureInfo.InvariantCulture), "--report-every", "50", "--checkpoint-dir", checkpointDir, .. more];

    [OneTimeSetUp]
    public void UninterruptedReferenceOnTwoRanks()
    {
        _shared = new TempDir();
        _reference = _shared["ref.h5"];
        using var job = Job.Mpi(2, Repo.MDDll, Args(_shared["ref-ckpt"], Steps, "--output", _reference));
        job.ExpectExit(0);
        _referenceStdout = job.Stdout;
    }

    [OneTimeTearDown]
    public void RemoveReference() => _shared.Dispose();

    private void AssertSameBitsAsReference(string file)
    {
        foreach (string name in (string[])["/state/pos", "/state/vel", "/state/id"])
        {
            Assert.That(H5Py.DatasetBytes(file, name), Is.EqualTo(H5Py.DatasetBytes(_reference, name)), $"{name} differs from the uninterrupted 2-rank run");
        }
    }

    [Test]
    public void Output_is_in_global_id_order_and_energy_is_conserved()
    {
        string summary = H5Py.Run(_reference, """
            f = h5py.File(path, 'r')
            ids = f['state/id'][()]
            print(f.attrs['app'], f['state/pos'].shape, f['state/vel'].shape, bool((ids == np.arange(864)).all()), int(f['params'].attrs['cells']))
            """);
        Assert.That(summary.Trim(), Is.EqualTo("md (864, 3) (864, 3) True 6"));
        var drift = Regex.Match(_referenceStdout, @"step 150/150 .* dE/E0 = ([-+.\dE]+)");
        Assert.That(drift.Success, Is.True, _referenceStdout);
        Assert.That(Math.Abs(double.Parse(drift.Groups[1].Value, CultureInfo.InvariantCulture)), Is.LessThan(5e-3), "energy drift over 150 steps");
    }

    [Test]
    public void Atoms_migrate_between_ranks_during_the_run()
    {
        var moves = Regex.Match(_referenceStdout, @"md: (\d+) atom moves between ranks");
        Assert.That(moves.Success, Is.True, _referenceStdout);
        Assert.That(long.Parse(moves.Groups[1].Value, CultureInfo.InvariantCulture), Is.GreaterThan(0));

        // Independently: atoms whose final position lies in the other half of the box than their lattice site (the
        // 2-rank grid splits z at L/2; MD prints the grid).
        Assert.That(_referenceStdout, Does.Contain("as a 1x1x2 grid"));
        string crossed = H5Py.Run(_reference, """
            f = h5py.File(path, 'r')
            a = (4 / 0.8442) ** (1 / 3); L = 6 * a
            ids = f['state/id'][()]; cell = ids // 4; b = ids % 4
            basis_z = np.array([0, 0, 0.5, 0.5])
            z0 = ((cell % 6) + basis_z[b]) * a
            z1 = np.mod(f['state/pos'][()][:, 2], L)
            print(int(((z0 < L / 2) != (z1 < L / 2)).sum()))
            """);
        Assert.That(int.Parse(crossed.Trim(), CultureInfo.InvariantCulture), Is.GreaterThan(0), "no atom ended in the other rank's half of the box");
    }

    [Test]
    public void Uninterrupted_run_on_three_ranks_is_bitwise_identical()
    {
        using var dir = new TempDir();
        using var job = Job.Mpi(3, Repo.MDDll, Args(dir["ckpt"], Steps, "--output", dir["out.h5"]));
        job.ExpectExit(0);
        Assert.That(job.Stdout, Does.Contain("as a 1x1x3 grid"));
        AssertSameBitsAsReference(dir["out.h5"]);
    }

    [Test]
    public void Stop_and_resume_on_4_then_3_then_1_ranks_is_bitwise_identical_and_every_atom_lands_in_its_subdomain()
    {
        using var dir = new TempDir();
        using (var first = Job.Mpi(4, Repo.MDDll, Args(dir["ckpt"], 57)))
        {
            first.ExpectExit(0); // 57 and 113 are not rebuild steps: the restart must rebuild the lists of step 40 and 100
        }

        string snapshot = Path.Combine(dir["ckpt"], "ckpt-000000057.h5");
        string copy = dir["step57.h5"];
        File.Copy(snapshot, copy);
        using (var second = Job.Mpi(3, Repo.MDDll, Args(dir["ckpt"], 113, "--report-ranks")))
        {
            second.ExpectExit(0);
            Assert.That(second.Stdout, Does.Contain("resumed from step 57 (restart 1)"));
            AssertRanksHoldTheirSubdomains(second.Stdout, copy, ranks: 3);
        }

        using var last = Job.Mpi(1, Repo.MDDll, Args(dir["ckpt"], Steps, "--output", dir["out.h5"]));
        last.ExpectExit(0);
        Assert.That(last.Stdout, Does.Contain("resumed from step 113 (restart 2)"));
        AssertSameBitsAsReference(dir["out.h5"]);
    }

    [Test]
    public void Sigterm_to_one_rank_checkpoints_and_the_run_continues_bit_for_bit_on_three_ranks()
    {
        using var dir = new TempDir();
        long stoppedAt;
        using (var job = Job.Mpi(2, Repo.MDDll, Args(dir["ckpt"], 10_000_000)))
        {
            job.WaitForLine(@"^md: step 100/");
            Job.Signal(job.WaitForRanks(2)[1], "TERM");
            job.ExpectExit(75);
            var stop = Regex.Match(job.Stdout, @"stopping after checkpoint of step (\d+) \(signal");
            Assert.That(stop.Success, Is.True, job.Describe());
            stoppedAt = long.Parse(stop.Groups[1].Value, CultureInfo.InvariantCulture);
        }

        long end = stoppedAt + 37; // the stop and the end fall between neighbour-list rebuilds in general
        using (var resume = Job.Mpi(3, Repo.MDDll, Args(dir["ckpt"], end, "--output", dir["out.h5"])))
        {
            resume.ExpectExit(0);
            Assert.That(resume.Stdout, Does.Contain($"resumed from step {stoppedAt} (restart 1)"));
        }

        using (var reference = Job.Mpi(1, Repo.MDDll, Args(dir["ref"], end, "--output", dir["ref.h5"])))
        {
            reference.ExpectExit(0);
        }

        foreach (string name in (string[])["/state/pos", "/state/vel"])
        {
            Assert.That(H5Py.DatasetBytes(dir["out.h5"], name), Is.EqualTo(H5Py.DatasetBytes(dir["ref.h5"], name)), $"{name} differs from an uninterrupted 1-rank run of {end} steps");
        }
    }

    /// <summary>
    /// Each rank's reported atom count equals the number of atoms of the snapshot whose reference position (the one
    /// ownership is decided by) lies in that rank's reported subdomain, and the subdomains tile the box.
    /// </summary>
    private static void AssertRanksHoldTheirSubdomains(string stdout, string snapshot, int ranks)
    {
        var lines = Regex.Matches(stdout, @"md: rank (\d+) holds (\d+) atoms in \[(\S+), (\S+)\) x \[(\S+), (\S+)\) x \[(\S+), (\S+)\)");
        Assert.That(lines, Has.Count.EqualTo(ranks), stdout);
        string boxes = string.Join(";", lines.Select(m => string.Join(",", Enumerable.Range(3, 6).Select(g => m.Groups[g].Value))));
        string[] counts = H5Py.Run(snapshot, $$"""
            f = h5py.File(path, 'r')
            a = (4 / 0.8442) ** (1 / 3); L = 6 * a
            r = np.mod(f['state/pos_ref'][()], L)
            out = []
            for box in "{{boxes}}".split(';'):
                b = [float(x) for x in box.split(',')]
                inside = np.ones(len(r), bool)
                for d in range(3):
                    inside &= (r[:, d] >= b[2 * d]) & (r[:, d] < b[2 * d + 1])
                out.append(str(int(inside.sum())))
            print(' '.join(out))
            """).Trim().Split(' ');
        for (int i = 0; i < ranks; i++)
        {
            Assert.That(lines[i].Groups[2].Value, Is.EqualTo(counts[i]), $"rank {lines[i].Groups[1].Value}: atoms held vs atoms in its subdomain");
        }

        Assert.That(counts.Sum(int.Parse), Is.EqualTo(864), "the subdomains do not tile the box");
    }

    [TestCase(2, new[] { "--cells", "0" }, "--cells 0 gives a box of zero size", TestName = "Zero_box_exits_64")]
    [TestCase(2, new[] { "--cutoff", "-1" }, "--cutoff: -1 is not allowed (must be > 0)", TestName = "Negative_cutoff_exits_64")]
    [TestCase(2, new[] { "--cells", "1", "--cutoff", "0.5", "--skin", "0.1" }, "2 ranks is more ranks than cells (1^3 = 1)", TestName = "More_ranks_than_cells_exits_64")]
    [TestCase(3, new[] { "--cells", "4" }, "3 ranks cannot split a box", TestName = "Subdomains_thinner_than_the_halo_exit_64")]
    public void Bad_input_exits_64_with_a_message(int ranks, string[] args, string message)
    {
        using var dir = new TempDir();
        using var job = Job.Mpi(ranks, Repo.MDDll, [.. args, "--checkpoint-dir", dir["ckpt"]]);
        job.ExpectExit(64);
        Assert.That(job.Stderr, Does.Contain("error: " + message));
        Assert.That(Directory.Exists(dir["ckpt"]), Is.False, "nothing may be created for a run that cannot start");
    }
}

using Coordinated.Tests.Infrastructure;

namespace Coordinated.Tests.Runtime;

/// <summary>
/// N-d blocks with halos (Apps/Stencil, a 3-d diffusion stencil that owns its Main): checkpointed on one decomposition,
/// restored onto another, bitwise identical to an uninterrupted run; element types double, bool, ulong and a struct.
/// </summary>
[NonParallelizable] // oversubscribed ranks
public class BlockStateTests
{
    private static string StencilDll
    {
        get
        {
            string path = Path.Combine(Repo.Root, "Apps", "Stencil", "bin", Repo.Configuration, "net10.0", "Stencil.dll");
            Assert.That(File.Exists(path), Is.True, $"{path} is missing; build the solution first.");
            return path;
        }
    }

    [Test]
    public void Blocks_of_a_2x2x1_grid_restore_onto_a_1x3x1_grid_bit_for_bit()
    {
        using var dir = new TempDir();
        using (var reference = Job.Mpi(1, StencilDll, ["--size", "12", "--steps", "30", "--checkpoint-dir", dir["ref"], "--output", dir["ref.h5"]]))
        {
            reference.ExpectExit(0);
        }

        using (var first = Job.Mpi(4, StencilDll, ["--size", "12", "--steps", "15", "--grid", "2x2x1", "--checkpoint-dir", dir["ckpt"]]))
        {
            first.ExpectExit(0);
            Assert.That(first.Stdout, Does.Contain("as a 2x2x1 grid"));
        }

        using (var second = Job.Mpi(3, StencilDll, ["--size", "12", "--steps", "30", "--grid", "1x3x1", "--checkpoint-dir", dir["ckpt"], "--output", dir["out.h5"]]))
        {
            second.ExpectExit(0);
            Assert.That(second.Stdout, Does.Contain("resumed from step 15 (restart 1)"));
            Assert.That(second.Stdout, Does.Contain("re-derived 3 RNG streams from the 4 saved"), "per-rank state: the app's policy for a changed rank count");
        }

        foreach (string name in (string[])["/state/u", "/state/hot", "/state/updates", "/state/range"])
        {
            Assert.That(H5Py.DatasetBytes(dir["out.h5"], name), Is.EqualTo(H5Py.DatasetBytes(dir["ref.h5"], name)), $"{name} differs from the uninterrupted 1-rank run");
        }

        string layout = H5Py.Run(dir["out.h5"], """
            f = h5py.File(path, 'r')
            s = f['state']
            u = s['u'][()].reshape([int(x) for x in f['params'].attrs['u_shape'].split(',')])
            print(u.shape, s['hot'].dtype, s['updates'].dtype, int(s['updates'][()].min()), int(s['updates'][()].max()), s['range'].dtype, s['range'].shape,
                  bool((s['range'][()][:, 0] <= s['range'][()][:, 1]).all()), 0 < int(s['hot'][()].sum()) < 1728)
            """);
        Assert.That(layout.Trim(), Is.EqualTo("(12, 12, 12) uint8 uint64 30 30 float32 (1728, 2) True True"));
        string rows = H5Py.Run(Path.Combine(dir["ckpt"], "ckpt-000000015.h5"), "print(h5py.File(path, 'r')['state/rng'].shape)").Trim() + " " +
            H5Py.Run(dir["out.h5"], "print(h5py.File(path, 'r')['state/rng'].shape)").Trim();
        Assert.That(rows, Is.EqualTo("(4,) (3,)"), "one row of per-rank state per writer rank");
    }
}

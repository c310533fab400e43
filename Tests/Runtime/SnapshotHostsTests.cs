using Coordinated.Tests.Infrastructure;

namespace Coordinated.Tests.Runtime;

/// <summary>Every snapshot names the host of every rank (root attribute <c>hosts</c>, docs/FORMAT.md).</summary>
[NonParallelizable] // oversubscribed ranks
public class SnapshotHostsTests
{
    [Test]
    public void Every_snapshot_and_the_output_record_the_host_of_every_rank_in_rank_order()
    {
        using var dir = new TempDir();
        using (var job = Job.Mpi(3, Repo.CounterDll, ["--to", "2", "--counters", "5", "--step-seconds", "0", "--checkpoint-every-steps", "1",
            "--checkpoint-dir", dir["ckpt"], "--output", dir["out.h5"]]))
        {
            job.ExpectExit(0);
        }

        string host = File.ReadAllText("/proc/sys/kernel/hostname").Trim();
        foreach (string file in new[] { dir["ckpt/ckpt-000000002.h5"], dir["out.h5"] })
        {
            // h5py: the value, and that it is a variable-length UTF-8 string.
            string seen = H5Py.Run(file, """
                with h5py.File(path, 'r') as f:
                    info = h5py.check_string_dtype(f.attrs.get_id('hosts').dtype)
                    value = f.attrs['hosts']
                    print(json.dumps([value.decode() if isinstance(value, bytes) else value, info.encoding, info.length]))
                """).Trim();
            Assert.That(seen, Is.EqualTo($"[\"{host},{host},{host}\", \"utf-8\", null]"), file);
        }
    }
}

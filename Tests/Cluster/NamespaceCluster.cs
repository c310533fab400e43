using System.Globalization;
using System.Text.RegularExpressions;
using Coordinated.Tests.Infrastructure;
using Coordinated.Tests.Slurm;

namespace Coordinated.Tests.Cluster;

/// <summary>
/// One simulated Slurm cluster (Tests/Cluster/cluster.sh) for a test fixture: started in OneTimeSetUp under its own
/// name, subnet and directory (so that two fixtures, or a person's own cluster, never collide), taken down in
/// OneTimeTearDown with a check that nothing is left behind. Every Slurm client call of <see cref="SlurmCluster"/>
/// goes to it once it is up.
/// </summary>
internal sealed class NamespaceCluster(string name, string subnet, int nodes)
{
    private string? _startError;
    private byte[] _referencePos = [];
    private byte[] _referenceVel = [];

    internal static string Script => Path.Combine(Repo.Root, "Tests", "Cluster", "cluster.sh");

    /// <summary>State, configs and logs (never under /tmp: every node has a /tmp of its own).</summary>
    internal string Dir { get; private set; } = "";

    /// <summary>The directory every node sees (the parallel file system of the simulation).</summary>
    internal string Shared { get; private set; } = "";

    /// <summary>The export lines <c>cluster.sh up</c> printed (SLURM_CONF, the Open MPI selection).</summary>
    internal string Exports { get; private set; } = "";

    internal int Nodes => nodes;

    private Dictionary<string, string> Env => new()
    {
        ["COORDINATED_CLUSTER_DIR"] = Dir,
        ["COORDINATED_CLUSTER_NAME"] = name,
        ["COORDINATED_CLUSTER_SUBNET"] = subnet,
        ["COORDINATED_GRACE_TIME"] = SlurmCluster.GraceSeconds.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>Starts the cluster; if it cannot start, every test fails with the reason (<see cref="SlurmCluster.RequireUp"/>).</summary>
    internal void Up()
    {
        Dir = Path.Combine("/var/tmp", $"coordinated-{name}-" + Guid.NewGuid().ToString("N")[..8]);
        var (rc, stdout, stderr) = SlurmCluster.Exec(Script, ["up", nodes.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(180), withConf: false, env: Env);
        TestContext.Progress.WriteLine(stderr.Trim());
        if (rc != 0)
        {
            _startError = $"the namespace cluster did not start (Tests/Cluster/cluster.sh up {nodes}, exit {rc}):\n{stderr}{stdout}\n"
                + "The cluster tests need root, iproute2, util-linux and the Slurm packages: scripts/ensure-deps.sh test.";
        }

        Exports = stdout;
        Shared = Regex.Match(stdout, @"^export COORDINATED_SHARED=(\S+)$", RegexOptions.Multiline).Groups[1].Value;
        SlurmCluster.Use(Dir, _startError);
        SlurmCluster.RequireUp();
    }

    /// <summary>Stops the cluster and checks that no namespace, interface or process of it is left; keeps the directory when a test failed.</summary>
    internal void Down()
    {
        if (Dir.Length == 0)
        {
            return;
        }

        var (rc, _, stderr) = SlurmCluster.Exec(Script, ["down"], TimeSpan.FromSeconds(120), withConf: false, env: Env);
        TestContext.Progress.WriteLine(stderr.Trim());
        Assert.That(rc, Is.Zero, $"cluster.sh down failed: {stderr}");
        var (_, leftovers, _) = SlurmCluster.Exec("sh", ["-c", $"ip netns list | grep '^{name}-' ; ip -o link show | grep -o '{name}[a-z0-9]*' ; true"], withConf: false);
        Assert.That(leftovers.Trim(), Is.Empty, "cluster.sh down left namespaces or interfaces behind");
        var daemons = Directory.EnumerateDirectories("/proc")
            .Where(d => int.TryParse(Path.GetFileName(d), out _))
            .Select(d => ReadOrEmpty(Path.Combine(d, "cmdline")).Replace('\0', ' '))
            .Where(cmd => cmd.Contains(Dir, StringComparison.Ordinal)).ToList();
        Assert.That(daemons, Is.Empty, "cluster.sh down left processes of the cluster running");
        if (TestContext.CurrentContext.Result.FailCount == 0)
        {
            Directory.Delete(Dir, recursive: true);
        }
        else
        {
            TestContext.Progress.WriteLine($"kept the cluster's directory (config, logs, job output): {Dir}");
        }
    }

    /// <summary>Runs <c>cluster.sh ARGS</c> (exec NODE CMD, kill-node, start-node); fails the test if it fails.</summary>
    internal string Command(params string[] args)
    {
        var (rc, stdout, stderr) = SlurmCluster.Exec(Script, args, TimeSpan.FromSeconds(120), withConf: false, env: Env);
        Assert.That(rc, Is.Zero, $"cluster.sh {string.Join(' ', args)} failed ({rc}): {stderr}");
        return stdout;
    }

    /// <summary>A directory for one test on the shared file system.</summary>
    internal string TestDir(string test)
    {
        string dir = Path.Combine(Shared, test);
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>
    /// A requeueable batch script that sets the cluster's Open MPI selection, two ranks per node, then
    /// <paramref name="exports"/>, and execs <c>mpi-run.sh LAUNCHER-OPTIONS NBody.dll APP-ARGS</c>.
    /// </summary>
    internal string BatchScript(IEnumerable<string> appArgs, string launcherOptions = "", string exports = "") => $$"""
        #!/bin/bash
        #SBATCH --requeue
        #SBATCH --open-mode=append
        {{Exports.Trim()}}
        export SLURM_NTASKS_PER_NODE=2
        {{exports.Trim()}}
        echo "job $SLURM_JOB_ID starting (restart ${SLURM_RESTART_COUNT:-0}) on $SLURM_JOB_NODELIST"
        exec {{Repo.Root}}/mpi-run.sh {{launcherOptions}} {{Repo.NBodyDll}} {{string.Join(' ', appArgs)}}
        """;

    /// <summary>
    /// The reference run: NBody with <paramref name="args"/> on one node (this machine), 2 ranks under mpirun, writing
    /// <paramref name="output"/>; every run on the cluster must end with the same bits (<see cref="AssertSameBitsAsReference"/>).
    /// Returns the bytes of /state/pos.
    /// </summary>
    internal byte[] RunReference(IEnumerable<string> args, string output)
    {
        using var job = Job.Mpi(2, Repo.NBodyDll, args);
        job.ExpectExit(0);
        _referencePos = H5Py.DatasetBytes(output, "/state/pos");
        _referenceVel = H5Py.DatasetBytes(output, "/state/vel");
        return _referencePos;
    }

    /// <summary>/state/pos and /state/vel of <paramref name="file"/> are bitwise those of the reference run.</summary>
    internal void AssertSameBitsAsReference(string file)
    {
        Assert.That(File.Exists(file), Is.True, $"{file} was not written");
        Assert.That(H5Py.DatasetBytes(file, "/state/pos"), Is.EqualTo(_referencePos), "/state/pos differs from the 1-node run");
        Assert.That(H5Py.DatasetBytes(file, "/state/vel"), Is.EqualTo(_referenceVel), "/state/vel differs from the 1-node run");
    }

    /// <summary>Waits until every node is idle again (a restarted node registers with slurmctld).</summary>
    internal static void WaitAllIdle()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        string states = "";
        while (DateTime.UtcNow < deadline)
        {
            states = SlurmCluster.Client("sinfo", "-h", "-N", "-p", "low", "-o", "%n=%T");
            if (states.Split('\n', StringSplitOptions.RemoveEmptyEntries).All(l => l.EndsWith("=idle", StringComparison.Ordinal)))
            {
                return;
            }

            Thread.Sleep(250);
        }

        Assert.Fail($"the nodes did not all become idle within 60 s:\n{states}\n{SlurmCluster.ControllerLog()}");
    }

    /// <summary>The root attribute <c>hosts</c> of a snapshot: every rank's host name in rank order.</summary>
    internal static string[] Hosts(string snapshot) =>
        H5Py.Attributes(snapshot).GetProperty("hosts").GetString()!.Split(',');

    private static string ReadOrEmpty(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return "";
        }
    }
}

/// <summary>
/// A test fixture on its own simulated cluster: the subclass starts it in its OneTimeSetUp (<c>Cluster.Up()</c>,
/// then its reference run); it is taken down after the fixture's tests, and every node is idle before each test.
/// </summary>
public abstract class ClusterFixture
{
    private protected ClusterFixture(NamespaceCluster cluster) => Cluster = cluster;

    private protected NamespaceCluster Cluster { get; }

    /// <summary>Takes the cluster down, checking that nothing of it is left.</summary>
    [OneTimeTearDown]
    public void StopCluster() => Cluster.Down();

    /// <summary>Fails the test if the cluster did not start; waits until every node is idle (a restarted one registered).</summary>
    [SetUp]
    public void ClusterIsUpAndIdle()
    {
        SlurmCluster.RequireUp();
        NamespaceCluster.WaitAllIdle();
    }
}

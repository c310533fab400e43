using System.Globalization;
using System.Text.Json;
using Coordinated.Tests.Infrastructure;

namespace Coordinated.Tests.Inspect;

/// <summary>
/// <c>inspect</c> as a user runs it (a plain process, stdout redirected), on snapshots that real NBody and Counter runs
/// under mpirun wrote: the directory table and its restart choice (checked against what the runtime really picks),
/// verify on damaged data, diff on a single flipped bit and on a stopped-and-resumed run, the metrics summary and
/// plot, and XDMF sidecars opened by an independent reader (meshio).
/// </summary>
[NonParallelizable] // ranks oversubscribe the machine's cores
public sealed class InspectTests
{
    private const int Particles = 48;

    private TempDir _runs = null!;

    /// <summary>NBody on 2 ranks, 30 steps, a snapshot every 10 (all kept), sidecars from --checkpoint-xdmf.</summary>
    private string Straight => _runs["straight"];

    /// <summary>The same run stopped at step 20 and resumed on 1 rank to step 30.</summary>
    private string Resumed => _runs["resumed"];

    /// <summary>Counter: int64 state, no positions.</summary>
    private string Counter => _runs["counter"];

    private static string InspectDll
    {
        get
        {
            string path = Path.Combine(Repo.Root, "Tools", "Inspect", "bin", Repo.Configuration, "net10.0", "Inspect.dll");
            if (!File.Exists(path))
            {
                Assert.Fail($"{path} is missing; build the solution first (dotnet build Coordinated.sln -c {Repo.Configuration}).");
            }

            return path;
        }
    }

    private static string[] NBodyArgs(string dir, long steps, params string[] more) =>
        ["--particles", Particles.ToString(CultureInfo.InvariantCulture), "--steps", steps.ToString(CultureInfo.InvariantCulture),
         "--checkpoint-every-steps", "10", "--keep", "5", "--report-every", "0", "--checkpoint-dir", dir, .. more];

    [OneTimeSetUp]
    public void RunTheApps()
    {
        _runs = new TempDir();
        using (var straight = Job.Mpi(2, Repo.NBodyDll, NBodyArgs(Straight, 30, "--checkpoint-xdmf")))
        {
            straight.ExpectExit(0);
        }

        using (var first = Job.Mpi(2, Repo.NBodyDll, NBodyArgs(Resumed, 20)))
        {
            first.ExpectExit(0);
        }

        using (var second = Job.Mpi(1, Repo.NBodyDll, NBodyArgs(Resumed, 30)))
        {
            second.ExpectExit(0);
            Assert.That(second.Stdout, Does.Contain("resumed from step 20"));
        }

        using var counter = Job.Mpi(2, Repo.CounterDll, ["--to", "6", "--counters", "5", "--checkpoint-every-steps", "3", "--checkpoint-dir", Counter]);
        counter.ExpectExit(0);
    }

    [OneTimeTearDown]
    public void Cleanup() => _runs.Dispose();

    private static (int Code, string Stdout, string Stderr) Inspect(params string[] args)
    {
        using var job = Job.Start("dotnet", [InspectDll, .. args]);
        int code = job.WaitForExit();
        return (code, job.Stdout, job.Stderr);
    }

    private static string Name(long step) => $"ckpt-{step:D9}.h5";

    /// <summary>Copies a run's directory so a test can damage it.</summary>
    private static string CopyOf(string source, TempDir into)
    {
        string target = into["ckpt"];
        Directory.CreateDirectory(target);
        foreach (string file in Directory.GetFiles(source))
        {
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        }

        return target;
    }

    private static void FlipBit(string file, long byteOffset, int bit)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite);
        stream.Position = byteOffset;
        int value = stream.ReadByte();
        stream.Position = byteOffset;
        stream.WriteByte((byte)(value ^ (1 << bit)));
    }

    [Test]
    public void Directory_table_lists_every_snapshot_the_restart_choice_leftovers_and_parameters_in_plain_text()
    {
        using var dir = new TempDir();
        string ckpt = CopyOf(Straight, dir);
        File.Copy(Path.Combine(ckpt, Name(30)), Path.Combine(ckpt, ".ckpt-000000040.h5.partial"));

        var (code, stdout, stderr) = Inspect(ckpt);
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stdout, Does.Not.Contain("\u001b"), "redirected output has no escape sequences");
        string[] lines = stdout.Split('\n');
        Assert.That(lines[1], Does.Match(@"^step\s+created \(UTC\)\s+app\s+ranks\s+size\s+trigger\s+level\s+latest\s+verifies$"));
        Assert.That(lines[2], Does.Match(@"^\s*30\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+nbody\s+2 on 1 host\s+[\d.]+ KiB\s+every-steps\s+global\s+latest\s+yes$"));
        Assert.That(lines[3], Does.Match(@"^\s*20\s.*\sglobal\s+yes$"));
        Assert.That(lines[4], Does.Match(@"^\s*10\s.*\sglobal\s+yes$"));
        Assert.That(stdout, Does.Contain($"would resume from {Name(30)}: the newest committed snapshot, and it verifies (step 30)"));
        Assert.That(stdout, Does.Contain(".ckpt-000000040.h5.partial").And.Contain("left by a run killed while writing"));
        Assert.That(stdout, Does.Contain($"particles = {Particles}").And.Contain("dt = 0.001").And.Contain("time = 0.03"));
    }

    [Test]
    public void Hosts_are_shown_when_a_snapshot_records_them()
    {
        using var dir = new TempDir();
        string ckpt = CopyOf(Straight, dir);
        H5Py.Run(Path.Combine(ckpt, Name(30)), "with h5py.File(path, 'r+') as f:\n    f.attrs['hosts'] = 'node1,node2'\n");
        H5Py.Run(Path.Combine(ckpt, Name(20)), "with h5py.File(path, 'r+') as f:\n    del f.attrs['hosts']\n"); // as written before hosts were recorded

        var (code, stdout, stderr) = Inspect(ckpt);
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stdout, Does.Match(@"(?m)^\s*30\s.*\snbody\s+2 on 2 hosts\s"));
        Assert.That(stdout, Does.Match(@"(?m)^\s*20\s.*\snbody\s+2\s"), "older snapshots without 'hosts' are tolerated");
        Assert.That(stdout, Does.Contain($"hosts ({Name(30)}, rank order): node1, node2"));

        var (_, json, _) = Inspect(ckpt, "--json");
        using var doc = JsonDocument.Parse(json);
        Assert.That(doc.RootElement.GetProperty("snapshots")[0].GetProperty("hosts").EnumerateArray().Select(h => h.GetString()), Is.EqualTo(new[] { "node1", "node2" }));
    }

    [Test]
    public void Json_output_is_machine_readable_and_agrees_with_the_files()
    {
        var (code, stdout, stderr) = Inspect(Straight, "--json");
        Assert.That(code, Is.Zero, stderr);
        using var doc = JsonDocument.Parse(stdout);
        JsonElement root = doc.RootElement;
        var snapshots = root.GetProperty("snapshots").EnumerateArray().ToList();
        Assert.That(snapshots.Select(s => s.GetProperty("step").GetInt64()), Is.EqualTo(new[] { 30L, 20L, 10L }));
        Assert.That(snapshots.Select(s => s.GetProperty("bytes").GetInt64()),
            Is.EqualTo(new[] { 30, 20, 10 }.Select(s => new FileInfo(Path.Combine(Straight, Name(s))).Length)));
        Assert.That(snapshots.All(s => s.GetProperty("verifies").GetBoolean() && s.GetProperty("level").GetString() == "global"), Is.True);
        Assert.That(snapshots[0].GetProperty("latest").GetBoolean(), Is.True);
        Assert.That(snapshots[0].GetProperty("ranks").GetInt64(), Is.EqualTo(H5Py.Attributes(Path.Combine(Straight, Name(30))).GetProperty("ranks").GetInt64()));
        Assert.That(root.GetProperty("restart").GetProperty("file").GetString(), Is.EqualTo(Name(30)));
        Assert.That(root.GetProperty("parameters").GetProperty("particles").GetInt64(), Is.EqualTo(Particles));
        Assert.That(root.GetProperty("in_use_by").ValueKind, Is.EqualTo(JsonValueKind.Null), "no run holds the directory");
    }

    [Test]
    public void A_directory_in_use_shows_its_owner_and_verifies_while_retention_deletes_snapshots()
    {
        using var dir = new TempDir();
        using var job = Job.Mpi(1, Repo.NBodyDll,
            ["--particles", "300", "--steps", "100000000", "--report-every", "0", "--checkpoint-every-steps", "20", "--checkpoint-xdmf", "--checkpoint-dir", dir["ckpt"]]);
        job.WaitForLine(@"checkpoint step \d+ .*removed ckpt-");

        var (code, json, stderr) = Inspect(dir["ckpt"], "--json");
        Assert.That(code, Is.Zero, stderr);
        using (var doc = JsonDocument.Parse(json))
        {
            Assert.That(doc.RootElement.GetProperty("in_use_by").GetString(), Does.StartWith($"nbody pid {job.RankPids()[0]} on "));
        }

        for (int i = 0; i < 3; i++)
        {
            var (verify, stdout, verifyErr) = Inspect("verify", dir["ckpt"]);
            Assert.That(verify, Is.Zero, "a snapshot deleted by retention mid-read is not damage:\n" + stdout + verifyErr);
        }

        Job.Signal(job.Pid, "USR1");
        job.ExpectExit(75);
        var (after, afterJson, _) = Inspect(dir["ckpt"], "--json");
        using var done = JsonDocument.Parse(afterJson);
        Assert.That(done.RootElement.GetProperty("in_use_by").ValueKind, Is.EqualTo(JsonValueKind.Null), "the lock went with the run");
        Assert.That(done.RootElement.GetProperty("snapshots")[0].GetProperty("trigger").GetString(), Is.EqualTo("signal"));
        Assert.That(Directory.GetFiles(dir["ckpt"], "ckpt-*.xdmf").Select(f => Path.ChangeExtension(Path.GetFileName(f), ".h5")),
            Is.EquivalentTo(Directory.GetFiles(dir["ckpt"], "ckpt-*.h5").Select(Path.GetFileName)),
            "one sidecar per kept snapshot: retention removed the others' sidecars");
    }

    [Test]
    public void On_a_terminal_the_table_has_colour_and_borders()
    {
        Requires.Tool("script", "apt-get install bsdutils");
        using var job = Job.Start("script", ["-qec", $"stty cols 160; dotnet {InspectDll} {Straight}", "/dev/null"], new Dictionary<string, string> { ["TERM"] = "xterm-256color" });
        Assert.That(job.WaitForExit(), Is.Zero);
        Assert.That(job.Stdout, Does.Contain("\u001b[").And.Contain("│"), "colour escape sequences and box-drawing borders");
        Assert.That(job.Stdout, Does.Match(@"30 │ \d{4}-\d\d-\d\d \d\d:\d\d:\d\d │ nbody"));
    }

    [Test]
    public void A_damaged_snapshot_fails_verify_with_the_dataset_and_range_and_the_restart_choice_matches_the_runtime()
    {
        using var dir = new TempDir();
        string ckpt = CopyOf(Straight, dir);
        string newest = Path.Combine(ckpt, Name(30));
        long offset = H5Py.DatasetOffset(newest, "/state/vel");
        FlipBit(newest, offset + (8 * 3 * 40) + 5, 2); // particle 40, x component: owned by rank 1 of 2

        var (good, goodOut, _) = Inspect("verify", Path.Combine(ckpt, Name(20)));
        Assert.That(good, Is.Zero, goodOut);
        Assert.That(goodOut, Does.Contain($"{Name(20)}: ok"));

        var (code, stdout, stderr) = Inspect("verify", ckpt);
        Assert.That(code, Is.EqualTo(65), stdout + stderr);
        Assert.That(stdout, Does.Match($@"DAMAGED {Name(30)}: /state/vel elements \[(\d+), (\d+)\): CRC-32C mismatch"));
        var range = System.Text.RegularExpressions.Regex.Match(stdout, @"/state/vel elements \[(\d+), (\d+)\)");
        Assert.That(long.Parse(range.Groups[1].Value), Is.LessThanOrEqualTo(40));
        Assert.That(long.Parse(range.Groups[2].Value), Is.GreaterThan(40));
        Assert.That(stdout, Does.Not.Contain("/state/pos").And.Not.Contain("/state/mass"), "only the damaged dataset is named");
        Assert.That(stdout, Does.Contain("1 of 3 snapshot(s) damaged"));

        var (_, json, _) = Inspect("verify", ckpt, "--json");
        using (var doc = JsonDocument.Parse(json))
        {
            Assert.That(doc.RootElement.GetProperty("ok").GetBoolean(), Is.False);
            var problem = doc.RootElement.GetProperty("snapshots")[0].GetProperty("problems")[0];
            Assert.That(problem.GetProperty("dataset").GetString(), Is.EqualTo("/state/vel"));
        }

        var (_, table, _) = Inspect(ckpt);
        Assert.That(table, Does.Contain($"would resume from {Name(20)}").And.Contain($"would skip {Name(30)}: /state/vel elements"));

        using var resume = Job.Mpi(1, Repo.NBodyDll, NBodyArgs(ckpt, 30));
        resume.ExpectExit(0);
        Assert.That(resume.Stdout, Does.Contain($"resumed from step 20 (restart 1) from {Name(20)}"), "inspect predicted the runtime's choice");
    }

    [Test]
    public void Verify_reports_a_truncated_snapshot_as_damaged()
    {
        using var dir = new TempDir();
        string ckpt = CopyOf(Straight, dir);
        string newest = Path.Combine(ckpt, Name(30));
        using (var stream = new FileStream(newest, FileMode.Open, FileAccess.Write))
        {
            stream.SetLength(stream.Length / 2);
        }

        var (code, stdout, stderr) = Inspect("verify", newest);
        Assert.That(code, Is.EqualTo(65), stdout + stderr);
        Assert.That(stdout + stderr, Does.Contain(Name(30)));
    }

    [Test]
    public void Diff_finds_a_single_flipped_bit()
    {
        using var dir = new TempDir();
        string a = Path.Combine(Straight, Name(30));
        string b = dir["b.h5"];
        File.Copy(a, b);
        long offset = H5Py.DatasetOffset(b, "/state/pos");
        const int element = 17, component = 2;
        FlipBit(b, offset + (8 * ((3 * element) + component)), 0); // lowest mantissa bit

        var (code, stdout, stderr) = Inspect("diff", a, b);
        Assert.That(code, Is.EqualTo(1), stdout + stderr);
        Assert.That(stdout, Does.Match(@"/state/pos\s+DIFFERENT\s+1\s+element 17, component 2:"));
        Assert.That(stdout, Does.Match(@"/state/vel\s+equal").And.Match(@"/state/mass\s+equal").And.Match(@"/params\s+equal"));

        var (_, json, _) = Inspect("diff", a, b, "--json");
        using var doc = JsonDocument.Parse(json);
        var pos = doc.RootElement.GetProperty("datasets").EnumerateArray().Single(d => d.GetProperty("dataset").GetString() == "/state/pos");
        double before = BitConverter.ToDouble(H5Py.DatasetBytes(a, "/state/pos"), 8 * ((3 * element) + component));
        double after = BitConverter.ToDouble(H5Py.DatasetBytes(b, "/state/pos"), 8 * ((3 * element) + component));
        Assert.That(pos.GetProperty("differing_elements").GetInt64(), Is.EqualTo(1));
        Assert.That(pos.GetProperty("first_element").GetInt64(), Is.EqualTo(element));
        Assert.That(pos.GetProperty("max_abs").GetDouble(), Is.EqualTo(Math.Abs(after - before)));
        Assert.That(pos.GetProperty("max_abs").GetDouble(), Is.GreaterThan(0));
        Assert.That(pos.GetProperty("max_rel").GetDouble(), Is.LessThan(1e-15));
    }

    [Test]
    public void Diff_says_a_stopped_and_resumed_run_is_bitwise_identical_to_an_uninterrupted_one()
    {
        var (code, stdout, stderr) = Inspect("diff", Path.Combine(Straight, Name(30)), Path.Combine(Resumed, Name(30)));
        Assert.That(code, Is.Zero, stdout + stderr);
        Assert.That(stdout, Does.Match(@"/state/pos\s+equal").And.Match(@"/state/vel\s+equal").And.Match(@"/scalars\s+equal"));
        Assert.That(stdout, Does.Contain("bitwise identical"));

        var (older, olderOut, _) = Inspect("diff", Path.Combine(Straight, Name(20)), Path.Combine(Resumed, Name(30)));
        Assert.That(older, Is.EqualTo(1), olderOut);
        Assert.That(olderOut, Does.Match(@"/state/pos\s+DIFFERENT\s+\d+").And.Contain("time: 0.02 vs 0.03"));
    }

    [Test]
    public void Metrics_summarises_checkpoint_restart_and_agreement_costs_and_plots_them()
    {
        string metrics = Path.Combine(Resumed, "metrics.jsonl");
        var events = File.ReadAllLines(metrics).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var costs = events.Where(e => e.GetProperty("event").GetString() == "checkpoint").Select(e => e.GetProperty("total_s").GetDouble()).Order().ToArray();
        Assert.That(costs, Has.Length.EqualTo(3), "snapshots at 10, 20 (first run) and 30 (resumed run)");

        using var dir = new TempDir();
        string png = dir["cost.png"];
        var (code, stdout, stderr) = Inspect("metrics", Resumed, "--png", png);
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stdout, Does.Contain("3 checkpoint(s), 0 failed, 1 restart(s)"));
        Assert.That(stdout, Does.Match(@"checkpoint \(every-steps\)\s+3\s+[\d.]+\s+[\d.]+\s+[\d.]+"));
        Assert.That(stdout, Does.Match(@"restart\s+1\s").And.Match(@"agreement\s+3\s").And.Match(@"interval\s+1\s"), "one interval: the restart separates the runs");
        byte[] image = File.ReadAllBytes(png);
        Assert.That(image.Take(8), Is.EqualTo(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0d, 0x0a, 0x1a, 0x0a }));

        var (_, json, _) = Inspect("metrics", Resumed, "--json");
        using var doc = JsonDocument.Parse(json);
        var all = doc.RootElement.GetProperty("checkpoint_cost");
        Assert.That(all.GetProperty("median").GetDouble(), Is.EqualTo(costs[1]).Within(1e-9), "median of three is the middle one");
        Assert.That(all.GetProperty("max").GetDouble(), Is.EqualTo(costs[2]).Within(1e-9));
        Assert.That(doc.RootElement.GetProperty("restarts").GetInt32(), Is.EqualTo(1));
    }

    [Test]
    public void Xdmf_sidecars_from_the_runtime_and_from_export_are_read_by_meshio_as_the_snapshot_points()
    {
        Requires.Tool(Repo.DebianPython, "apt-get install python3-h5py-mpi");
        string runtimeSidecar = Path.Combine(Straight, "ckpt-000000030.xdmf");
        Assert.That(Directory.GetFiles(Straight, "*.xdmf").Select(Path.GetFileName), Is.EquivalentTo(new[] { "ckpt-000000010.xdmf", "ckpt-000000020.xdmf", "ckpt-000000030.xdmf" }),
            "--checkpoint-xdmf wrote one sidecar per committed snapshot");

        using var dir = new TempDir();
        string snapshot = dir[Name(30)];
        File.Copy(Path.Combine(Resumed, Name(30)), snapshot);
        var (code, stdout, stderr) = Inspect("export", snapshot, "--xdmf");
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stdout, Does.Contain($"{Particles} points"));

        foreach (string sidecar in new[] { runtimeSidecar, dir["ckpt-000000030.xdmf"] })
        {
            string result = MeshioRead(sidecar);
            Assert.That(result.Trim(), Is.EqualTo($"points {Particles} vertex {Particles} pos-equal True vel-equal True mass-equal True"), sidecar);
        }
    }

    /// <summary>Reads a sidecar with meshio and compares what it finds with h5py's reading of the snapshot.</summary>
    private static string MeshioRead(string sidecar)
    {
        Requires.Tool("/usr/lib/python3/dist-packages/meshio/__init__.py", "apt-get install python3-meshio");
        string h5 = Path.ChangeExtension(sidecar, ".h5");
        return H5Py.Run(h5, $$"""
            import meshio
            m = meshio.read('{{sidecar}}')
            with h5py.File(path, 'r') as f:
                pos, vel, mass = f['/state/pos'][()], f['/state/vel'][()], f['/state/mass'][()]
            vertices = sum(len(c.data) for c in m.cells if c.type == 'vertex')
            same = lambda a, b: a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()
            print('points', len(m.points), 'vertex', vertices, 'pos-equal', same(m.points, pos),
                  'vel-equal', same(m.point_data['vel'], vel), 'mass-equal', same(m.point_data['mass'], mass))
            """);
    }

    [Test]
    public void Export_refuses_a_snapshot_without_positions_and_counter_snapshots_verify()
    {
        var (verify, verifyOut, _) = Inspect("verify", Counter);
        Assert.That(verify, Is.Zero, verifyOut);
        Assert.That(verifyOut, Does.Contain("2 snapshot(s) verify"));

        var (code, stdout, stderr) = Inspect("export", Path.Combine(Counter, Name(6)), "--xdmf");
        Assert.That(code, Is.EqualTo(65), stdout);
        Assert.That(stderr, Does.Contain("cannot be shown as points").And.Contain("no /state/pos"));
    }

    private static IEnumerable<TestCaseData> BadInputs()
    {
        string missing = Path.Combine(Path.GetTempPath(), $"coordinated-missing-{Guid.NewGuid():N}");
        yield return new TestCaseData((object)new[] { missing }, $"checkpoint directory {missing} does not exist").SetName("Missing_directory_exits_64");
        yield return new TestCaseData((object)new[] { "verify", "/etc/hostname" }, "is not an HDF5 file").SetName("Non_snapshot_file_exits_64");
        yield return new TestCaseData((object)new[] { "frobnicate" }, "'frobnicate' is neither a subcommand").SetName("Unknown_subcommand_exits_64");
        yield return new TestCaseData((object)new[] { "diff", Path.Combine(missing, "a.h5") }, "Required argument 'B' missing").SetName("Diff_with_one_path_exits_64");
        yield return new TestCaseData((object)new[] { "metrics", missing }, $"{missing} does not exist").SetName("Metrics_of_missing_directory_exits_64");
        yield return new TestCaseData((object)new[] { "export", "/etc/hostname" }, "say which format to export: --xdmf").SetName("Export_without_format_exits_64");
    }

    [TestCaseSource(nameof(BadInputs))]
    public void Bad_input_exits_64_with_a_message(string[] args, string message)
    {
        var (code, stdout, stderr) = Inspect(args);
        Assert.That(code, Is.EqualTo(64), stdout + stderr);
        Assert.That(stderr, Does.Contain(message));
    }

    [Test]
    public void An_hdf5_file_that_is_not_a_snapshot_exits_64()
    {
        using var dir = new TempDir();
        string file = dir["other.h5"];
        H5Py.Run(file, "with h5py.File(path, 'w') as f:\n    f['x'] = np.arange(4)\n");
        var (code, _, stderr) = Inspect("verify", file);
        Assert.That(code, Is.EqualTo(64));
        Assert.That(stderr, Does.Contain("is an HDF5 file but not a Coordinated snapshot"));
    }
}

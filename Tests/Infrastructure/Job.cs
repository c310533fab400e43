using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Coordinated.Study;

namespace Coordinated.Tests.Infrastructure;

/// <summary>
/// A real multi-process job (mpirun, mpi-run.sh or a single process) with captured output, waits on output lines
/// as synchronisation points, and a hard timeout that kills the whole process tree.
/// </summary>
internal sealed class Job : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly object _gate = new();

    private Job(Process process)
    {
        _process = process;
    }

    internal static TimeSpan DefaultTimeout { get; } = TimeSpan.FromSeconds(120);

    /// <summary>Starts <paramref name="ranks"/> ranks of an app dll under mpirun.</summary>
    internal static Job Mpi(int ranks, string dll, IEnumerable<string> args, IDictionary<string, string>? env = null)
    {
        string[] command = MpiRun.Command(ranks, dll, args);
        return Start(command[0], command[1..], env);
    }

    /// <summary>
    /// Starts an app on simulated nodes (one host): mpirun MPMD, one app context per node with
    /// <c>COORDINATED_NODE</c> set to the node's name (docs/MULTILEVEL.md), ranks in the order given.
    /// </summary>
    internal static Job MpiNodes((string Node, int Ranks)[] nodes, string dll, IEnumerable<string> args, IDictionary<string, string>? env = null)
    {
        string[] app = [.. args];
        var command = new List<string> { "--quiet", "--oversubscribe", "--bind-to", "none" };
        foreach (var (node, ranks) in nodes)
        {
            if (command.Count > 4)
            {
                command.Add(":");
            }

            command.AddRange(["-n", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture), "-x", "COORDINATED_NODE=" + node, "dotnet", dll, .. app]);
        }

        return Start("mpirun", command, env);
    }

    /// <summary>Starts the app without mpirun (a singleton MPI process).</summary>
    internal static Job Single(string dll, IEnumerable<string> args, IDictionary<string, string>? env = null) =>
        Start("dotnet", [dll, .. args], env);

    internal static Job Start(string file, IEnumerable<string> args, IDictionary<string, string>? env = null, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Repo.Root,
        };
        foreach (string a in args)
        {
            info.ArgumentList.Add(a);
        }

        MpiRun.SetEnvironment(info);
        info.Environment.Remove("SLURM_JOB_ID");
        info.Environment.Remove("SLURM_RESTART_COUNT");
        if (env is not null)
        {
            foreach (var (k, v) in env)
            {
                info.Environment[k] = v;
            }
        }

        var process = new Process { StartInfo = info };
        var job = new Job(process);
        process.OutputDataReceived += (_, e) => job.Append(job._stdout, e.Data);
        process.ErrorDataReceived += (_, e) => job.Append(job._stderr, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        TestContext.Out.WriteLine($"started {file} {string.Join(' ', args)} (pid {process.Id})");
        return job;
    }

    private void Append(StringBuilder target, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_gate)
        {
            target.AppendLine(line);
            Monitor.PulseAll(_gate);
        }
    }

    internal int Pid => _process.Id;

    internal string Stdout
    {
        get
        {
            lock (_gate)
            {
                return _stdout.ToString();
            }
        }
    }

    internal string Stderr
    {
        get
        {
            lock (_gate)
            {
                return _stderr.ToString();
            }
        }
    }

    internal string Output => Stdout + Stderr;

    /// <summary>Blocks until stdout or stderr has a line matching <paramref name="pattern"/>; fails the test on timeout or exit.</summary>
    internal Match WaitForLine(string pattern, TimeSpan? timeout = null)
    {
        var regex = new Regex(pattern, RegexOptions.Multiline);
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        lock (_gate)
        {
            while (true)
            {
                Match m = regex.Match(_stdout.ToString() + _stderr.ToString());
                if (m.Success)
                {
                    return m;
                }

                if (_process.HasExited)
                {
                    Monitor.Wait(_gate, 200); // let the last lines arrive
                    m = regex.Match(_stdout.ToString() + _stderr.ToString());
                    if (m.Success)
                    {
                        return m;
                    }

                    Assert.Fail($"job exited ({_process.ExitCode}) before printing /{pattern}/.\n{Describe()}");
                }

                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero)
                {
                    Kill();
                    Assert.Fail($"timed out waiting for /{pattern}/.\n{Describe()}");
                }

                Monitor.Wait(_gate, left < TimeSpan.FromMilliseconds(250) ? left : TimeSpan.FromMilliseconds(250));
            }
        }
    }

    /// <summary>Waits for exit and returns the exit code; kills the process tree and fails on timeout.</summary>
    internal int WaitForExit(TimeSpan? timeout = null)
    {
        if (!_process.WaitForExit(timeout ?? DefaultTimeout))
        {
            Kill();
            Assert.Fail($"job did not exit within {(timeout ?? DefaultTimeout).TotalSeconds} s; killed.\n{Describe()}");
        }

        _process.WaitForExit(); // drain the output readers
        TestContext.Out.WriteLine(Describe());
        return _process.ExitCode;
    }

    /// <summary>Waits for exit and asserts the code.</summary>
    internal void ExpectExit(int code, TimeSpan? timeout = null)
    {
        int actual = WaitForExit(timeout);
        Assert.That(actual, Is.EqualTo(code), () => $"unexpected exit code.\n{Describe()}");
    }

    /// <summary>Pids of the app processes (dotnet) started by this job, with their MPI rank.</summary>
    internal Dictionary<int, int> RankPids()
    {
        var result = new Dictionary<int, int>();
        foreach (int pid in ProcessTable.Descendants(_process.Id))
        {
            try
            {
                string environ = File.ReadAllText($"/proc/{pid}/environ");
                string cmd = File.ReadAllText($"/proc/{pid}/cmdline");
                if (!cmd.StartsWith("dotnet", StringComparison.Ordinal) && !cmd.Contains("/dotnet\0", StringComparison.Ordinal))
                {
                    continue;
                }

                foreach (string kv in environ.Split('\0'))
                {
                    if (kv.StartsWith("OMPI_COMM_WORLD_RANK=", StringComparison.Ordinal) || kv.StartsWith("PMIX_RANK=", StringComparison.Ordinal))
                    {
                        result[int.Parse(kv[(kv.IndexOf('=') + 1)..])] = pid;
                        break;
                    }
                }
            }
            catch (IOException)
            {
            }
        }

        return result;
    }

    /// <summary>Waits until <paramref name="count"/> ranks are running, and returns rank -> pid.</summary>
    internal Dictionary<int, int> WaitForRanks(int count)
    {
        var deadline = DateTime.UtcNow + DefaultTimeout;
        while (DateTime.UtcNow < deadline)
        {
            var pids = RankPids();
            if (pids.Count == count)
            {
                return pids;
            }

            Thread.Sleep(50);
        }

        Assert.Fail($"never saw {count} ranks.\n{Describe()}");
        return [];
    }

    internal static void Signal(int pid, string signal)
    {
        using var kill = Process.Start("kill", ["-s", signal, pid.ToString()]);
        kill.WaitForExit();
    }

    /// <summary>SIGKILL to the launcher and every process under it, at once.</summary>
    internal void KillNine()
    {
        var all = ProcessTable.Descendants(_process.Id).Append(_process.Id).ToList();
        foreach (int pid in all)
        {
            Signal(pid, "KILL");
        }

        _process.WaitForExit(10_000);
    }

    private void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
    }

    internal string Describe() => $"--- stdout ---\n{Stdout}--- stderr ---\n{Stderr}";

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Kill();
            _process.WaitForExit(10_000);
        }

        _process.Dispose();
    }
}

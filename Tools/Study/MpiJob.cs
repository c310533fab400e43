using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Coordinated.Study;

/// <summary>
/// One launch of an app under <c>mpirun</c>, in a session of its own (<c>setsid</c>), with every output line
/// time-stamped from the launch. <see cref="KillNine"/> is the injected failure: SIGKILL to every process of the
/// session (mpirun puts each rank in a process group of its own, but they all stay in its session), then a wait until
/// none is left, so no orphaned rank outlives the kill.
/// </summary>
internal sealed partial class MpiJob : IDisposable
{
    private const int SigKill = 9;
    private static readonly TimeSpan s_reapTimeout = TimeSpan.FromSeconds(30);

    private static readonly HashSet<MpiJob> s_running = [];

    private readonly Process _process;
    private readonly Stopwatch _clock;
    private readonly List<(double Seconds, string Line)> _lines = [];
    private readonly Lock _gate = new();

    private MpiJob(Process process, Stopwatch clock)
    {
        _process = process;
        _clock = clock;
        StartedUtc = DateTime.UtcNow;
    }

    /// <summary>When the job was launched (UTC), to place the runtime's metrics events on the job's clock.</summary>
    public DateTime StartedUtc { get; }

    /// <summary>Starts <paramref name="command"/>, an mpirun command line from <see cref="MpiRun"/>.</summary>
    public static MpiJob Start(IReadOnlyList<string> command, string workingDirectory)
    {
        var info = new ProcessStartInfo("setsid")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (string a in command)
        {
            info.ArgumentList.Add(a);
        }

        MpiRun.SetEnvironment(info);
        var process = new Process { StartInfo = info };
        var clock = Stopwatch.StartNew();
        var job = new MpiJob(process, clock);
        process.OutputDataReceived += (_, e) => job.Append(e.Data);
        process.ErrorDataReceived += (_, e) => job.Append(e.Data);
        lock (s_running)
        {
            process.Start();
            s_running.Add(job);
        }

        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return job;
    }

    /// <summary>Seconds from the launch to its exit, or to the kill (valid once it has exited or was killed).</summary>
    public double ExitSeconds { get; private set; }

    public int ExitCode => _process.ExitCode;

    /// <summary>Everything the job printed, stdout and stderr interleaved as received.</summary>
    public string Output
    {
        get
        {
            lock (_gate)
            {
                return string.Join('\n', _lines.Select(l => l.Line));
            }
        }
    }

    /// <summary>The lines matching <paramref name="pattern"/> with the seconds from the launch at which each arrived.</summary>
    public List<(double Seconds, Match Match)> Lines(Regex pattern)
    {
        lock (_gate)
        {
            return [.. _lines.Select(l => (l.Seconds, pattern.Match(l.Line))).Where(l => l.Item2.Success)];
        }
    }

    /// <summary>Waits up to <paramref name="timeout"/>; true if the job exited (its output is then complete).</summary>
    public bool WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout < TimeSpan.Zero ? TimeSpan.Zero : timeout))
        {
            return false;
        }

        ExitSeconds = _clock.Elapsed.TotalSeconds;
        _process.WaitForExit(); // drains the output readers
        EnsureSessionEmpty("after it exited");
        return true;
    }

    /// <summary>
    /// kill -9 of the whole job: SIGKILL to mpirun and every rank at once, repeated until no live process is left in
    /// its session (a process forked during the first sweep is caught by the next). Returns when all are gone.
    /// </summary>
    public void KillNine()
    {
        ExitSeconds = _clock.Elapsed.TotalSeconds; // the instant of the failure; what the job did after it is lost anyway
        int session = _process.Id; // setsid made the launched process the leader of a new session
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            List<int> members = ProcessTable.SessionMembers(session);
            if (!_process.HasExited && !members.Contains(_process.Id))
            {
                members.Add(_process.Id); // not yet in its own session (setsid has not run): kill it directly
            }

            if (members.Count == 0)
            {
                break;
            }

            foreach (int pid in members)
            {
                _ = Kill(pid, SigKill);
            }

            if (deadline.Elapsed > s_reapTimeout)
            {
                throw new InvalidOperationException($"processes {string.Join(", ", members)} of the killed job are still alive after {s_reapTimeout.TotalSeconds} s.");
            }

            Thread.Sleep(5);
        }

        _process.WaitForExit();
    }

    private void EnsureSessionEmpty(string when)
    {
        var deadline = Stopwatch.StartNew();
        while (ProcessTable.SessionMembers(_process.Id) is { Count: > 0 } left)
        {
            if (deadline.Elapsed > s_reapTimeout)
            {
                throw new InvalidOperationException($"processes {string.Join(", ", left)} of the job are still alive {when}.");
            }

            Thread.Sleep(20);
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_gate)
        {
            _lines.Add((_clock.Elapsed.TotalSeconds, line));
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>Kills every job still running (the study was interrupted: its jobs are in sessions of their own and got no signal).</summary>
    public static void KillAll()
    {
        MpiJob[] running;
        lock (s_running)
        {
            running = [.. s_running];
        }

        foreach (MpiJob job in running)
        {
            job.KillNine();
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            KillNine();
        }

        lock (s_running)
        {
            s_running.Remove(this);
        }

        _process.Dispose();
    }
}

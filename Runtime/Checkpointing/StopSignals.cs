using System.Runtime.InteropServices;

namespace Coordinated.Checkpointing;

/// <summary>
/// Turns the stop signals (SIGTERM, SIGINT, SIGUSR1, SIGUSR2 by default) into a flag. The handler does nothing
/// else: no I/O, no MPI. The flag is read at the next step boundary, where all ranks agree to checkpoint and stop.
/// </summary>
public static class StopSignals
{
    private static readonly Dictionary<int, PosixSignalRegistration> s_registrations = [];
    private static int s_calls;
    private static int s_count;
    private static int s_last;

    /// <summary>Signals handled when the user does not choose (--stop-signals).</summary>
    public static IReadOnlyList<string> Defaults { get; } = ["TERM", "INT", "USR1", "USR2"];

    /// <summary>True once any registered signal arrived in this process.</summary>
    public static bool Requested => Volatile.Read(ref s_count) > 0;

    /// <summary>How many registered signals arrived.</summary>
    public static int Count => Volatile.Read(ref s_count);

    /// <summary>
    /// Name of the most recent signal (e.g. "SIGTERM"), or null. A SIGUSR1 forwarded by mpi-run.sh reports the
    /// signal mpi-run.sh received: it writes that name to the file <c>COORDINATED_SIGNAL_NOTE</c> names before it
    /// forwards (mpirun would kill the ranks on TERM). Read here, at the step boundary, never in the handler.
    /// </summary>
    public static string? LastSignal => Volatile.Read(ref s_last) switch
    {
        0 => null,
        10 when LauncherNote() is int received => Name(received),
        var n => Name(n),
    };

    /// <summary>
    /// Makes exactly <paramref name="names"/> the stop signals. A signal handled before stays registered (its handler is
    /// never replaced), new ones are added before any is removed, and a handler is never disposed while it is still
    /// wanted: a stop signal is covered without a gap from the first call (before MPI starts) to the exit.
    /// Fault point <c>signals-registered</c> (step = number of this call) sits between adding and removing.
    /// </summary>
    public static void Register(IEnumerable<string> names)
    {
        var wanted = new HashSet<int>();
        foreach (string name in names)
        {
            wanted.Add(Parse(name) ?? throw new UsageException($"unknown signal '{name}' (use TERM, INT, USR1, USR2, HUP, QUIT or none)"));
        }

        lock (s_registrations)
        {
            foreach (int number in wanted.Where(n => !s_registrations.ContainsKey(n)))
            {
                s_registrations[number] = PosixSignalRegistration.Create((PosixSignal)number, OnSignal);
            }

            FaultInjection.At("signals-registered", Hosting.CoordinatedApp.LaunchRank(), ++s_calls);
            foreach (int number in s_registrations.Keys.Where(n => !wanted.Contains(n)).ToList())
            {
                s_registrations[number].Dispose();
                s_registrations.Remove(number);
            }
        }
    }

    /// <summary>Maps TERM/SIGTERM/15 style names to Linux signal numbers; null if unknown.</summary>
    public static int? Parse(string name)
    {
        string n = name.Trim().ToUpperInvariant();
        if (n.StartsWith("SIG", StringComparison.Ordinal))
        {
            n = n[3..];
        }

        return n switch
        {
            "HUP" or "1" => 1,
            "INT" or "2" => 2,
            "QUIT" or "3" => 3,
            "USR1" or "10" => 10,
            "USR2" or "12" => 12,
            "TERM" or "15" => 15,
            _ => null,
        };
    }

    private static string Name(int number) => number switch
    {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        10 => "SIGUSR1",
        12 => "SIGUSR2",
        15 => "SIGTERM",
        _ => $"signal {number}",
    };

    /// <summary>The signal named in mpi-run.sh's note (COORDINATED_SIGNAL_NOTE), or null when there is none.</summary>
    private static int? LauncherNote()
    {
        string? path = Environment.GetEnvironmentVariable("COORDINATED_SIGNAL_NOTE");
        try
        {
            return string.IsNullOrEmpty(path) || !File.Exists(path) ? null : Parse(File.ReadAllText(path));
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static void OnSignal(PosixSignalContext context)
    {
        // Only flags: the step loop does the work. Cancel keeps the process alive (the default action would kill it).
        context.Cancel = true;
        int number = context.Signal switch
        {
            PosixSignal.SIGTERM => 15,
            PosixSignal.SIGINT => 2,
            PosixSignal.SIGHUP => 1,
            PosixSignal.SIGQUIT => 3,
            _ => (int)context.Signal,
        };
        Volatile.Write(ref s_last, number);
        Interlocked.Increment(ref s_count);
    }

    /// <summary>Forgets received signals (tests).</summary>
    internal static void Reset()
    {
        Volatile.Write(ref s_count, 0);
        Volatile.Write(ref s_last, 0);
    }
}

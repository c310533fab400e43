using System.Globalization;

namespace Coordinated.Study;

/// <summary>One live process as <c>/proc/PID/stat</c> describes it.</summary>
/// <param name="Pid">Its process id.</param>
/// <param name="ParentPid">Its parent's process id.</param>
/// <param name="Session">Its session id.</param>
/// <param name="State">The state letter (R, S, D, T, ...; zombies and dead processes are left out).</param>
internal sealed record ProcessEntry(int Pid, int ParentPid, int Session, char State)
{
    /// <summary>The command line, arguments separated by NUL; empty if the process has exited meanwhile.</summary>
    public string CommandLine => ProcessTable.ReadOrEmpty($"/proc/{Pid}/cmdline");
}

/// <summary>
/// The one reader of <c>/proc</c> for process trees: the study uses it to kill and reap a job's session, the tests to
/// find ranks, Slurm step daemons and leftovers. A snapshot: processes may exit or start right after it is taken.
/// </summary>
internal static class ProcessTable
{
    /// <summary>Every live (not zombie) process.</summary>
    public static List<ProcessEntry> Snapshot()
    {
        var entries = new List<ProcessEntry>();
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            {
                continue;
            }

            string stat = ReadOrEmpty(Path.Combine(dir, "stat"));
            int close = stat.LastIndexOf(')');
            if (close < 0)
            {
                continue; // exited meanwhile
            }

            // pid (comm) state ppid pgrp session ...; comm may contain spaces and parentheses.
            string[] fields = stat[(close + 2)..].Split(' ');
            if (fields.Length > 3 && fields[0] is not ("Z" or "X")
                && int.TryParse(fields[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int parent)
                && int.TryParse(fields[3], NumberStyles.Integer, CultureInfo.InvariantCulture, out int session))
            {
                entries.Add(new ProcessEntry(pid, parent, session, fields[0][0]));
            }
        }

        return entries;
    }

    /// <summary>Pids of every live process below <paramref name="root"/> (children, their children, ...).</summary>
    public static List<int> Descendants(int root)
    {
        ILookup<int, int> children = Snapshot().ToLookup(p => p.ParentPid, p => p.Pid);
        var result = new List<int>();
        var queue = new Queue<int>([root]);
        while (queue.TryDequeue(out int pid))
        {
            foreach (int child in children[pid])
            {
                result.Add(child);
                queue.Enqueue(child);
            }
        }

        return result;
    }

    /// <summary>Pids of the live processes whose session id is <paramref name="session"/>.</summary>
    public static List<int> SessionMembers(int session) => [.. Snapshot().Where(p => p.Session == session).Select(p => p.Pid)];

    /// <summary>Pids of the live processes whose command line (arguments separated by NUL) satisfies <paramref name="match"/>.</summary>
    public static List<int> Matching(Func<string, bool> match) => [.. Snapshot().Where(p => match(p.CommandLine)).Select(p => p.Pid)];

    internal static string ReadOrEmpty(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return ""; // exited meanwhile, or not ours to read
        }
    }
}

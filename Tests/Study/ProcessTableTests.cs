using Coordinated.Study;
using Coordinated.Tests.Infrastructure;

namespace Coordinated.Tests.Study;

/// <summary>The one /proc reader (the study kills sessions with it; the tests find ranks, step daemons and leftovers).</summary>
[Category("Study")]
public sealed class ProcessTableTests
{
    [Test]
    public void Finds_a_process_by_parent_session_and_command_line_and_forgets_it_once_reaped()
    {
        string marker = $"coordinated-process-table-{Guid.NewGuid():N}";
        int shell, sleeper;
        using (var job = Job.Start("setsid", ["sh", "-c", $"sleep 600; : {marker}"]))
        {
            shell = job.Pid; // setsid execs sh in place: a new session whose id is this pid
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            List<int> children;
            while ((children = ProcessTable.Descendants(shell)).Count == 0 && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(10); // sh has not forked sleep yet
            }

            Assert.That(children, Has.Count.EqualTo(1), "sh's one child, sleep");
            sleeper = children[0];
            Assert.That(ProcessTable.Matching(command => command.Contains(marker, StringComparison.Ordinal)), Is.EqualTo(new[] { shell }));
            Assert.That(ProcessTable.SessionMembers(shell), Is.EquivalentTo(new[] { shell, sleeper }));
            Assert.That(ProcessTable.Snapshot().Single(p => p.Pid == sleeper).ParentPid, Is.EqualTo(shell));
        }

        // Dispose killed the tree and reaped sh; sleep, reparented, is reaped by init.
        var gone = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (ProcessTable.SessionMembers(shell).Count > 0 && DateTime.UtcNow < gone)
        {
            Thread.Sleep(10);
        }

        Assert.That(ProcessTable.SessionMembers(shell), Is.Empty);
        Assert.That(ProcessTable.Matching(command => command.Contains(marker, StringComparison.Ordinal)), Is.Empty);
    }
}

namespace Coordinated.Study;

/// <summary>One injected node failure: when (seconds into the launch) and which pseudo-nodes it takes.</summary>
/// <param name="AtSeconds">Time from the launch to the kill -9.</param>
/// <param name="Nodes">The node indices that lose their node-local storage: one, or two neighbours (i, i + 1 mod N).</param>
internal sealed record NodeFailure(double AtSeconds, IReadOnlyList<int> Nodes)
{
    /// <summary>True when two neighbouring nodes fail together (the partner level cannot recover it).</summary>
    public bool TakesTwo => Nodes.Count > 1;
}

/// <summary>
/// The node failures of one trial of the level comparison. The times are the interval study's (the same
/// <see cref="FailureSchedule"/> for (seed, trial)); which nodes fail comes from a second, independent stream of the
/// same generator, so global-only and multi-level runs of trial k meet the same failures at the same times and on the
/// same nodes (common random numbers). Each failure takes two neighbouring nodes with probability
/// <c>doubleFraction</c>, otherwise one; the first node is uniform over the nodes.
/// </summary>
internal sealed class NodeFailureSchedule
{
    /// <summary>Offset of the trial number for the stream that picks the nodes (far from any real trial number).</summary>
    private const int NodeStream = 1_000_003;

    private readonly FailureSchedule _times;
    private readonly FailureSchedule _nodes;
    private readonly int _nodeCount;
    private readonly double _doubleFraction;

    public NodeFailureSchedule(double mtbfSeconds, long seed, int trial, int nodes, double doubleFraction)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(nodes, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(doubleFraction);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(doubleFraction, 1);
        _times = new FailureSchedule(mtbfSeconds, seed, trial);
        _nodes = new FailureSchedule(1, seed, trial + NodeStream);
        _nodeCount = nodes;
        _doubleFraction = doubleFraction;
    }

    /// <summary>The next failure. Two uniform draws every time, so the sequence of nodes does not depend on the mix.</summary>
    public NodeFailure Next()
    {
        double at = _times.Next();
        bool two = _nodes.NextUniform() <= _doubleFraction && _nodeCount > 1; // NextUniform is in (0, 1]: q = 0 never, q = 1 always
        int first = Math.Min(_nodeCount - 1, (int)((1 - _nodes.NextUniform()) * _nodeCount));
        return new NodeFailure(at, two ? [first, (first + 1) % _nodeCount] : [first]);
    }
}

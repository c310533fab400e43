namespace Coordinated.Apps.NBody.Physics;

/// <summary>
/// Makes every rank's positions available to every rank: on entry the calling rank's block of
/// <paramref name="positions"/> holds its new positions; on return the whole span must hold every
/// rank's block (an in-place <c>MPI_Allgatherv</c> with the counts of <see cref="Coordinated.Partition.Block"/>, times 3).
/// </summary>
/// <param name="positions">All 3N coordinates.</param>
public delegate void PositionExchange(Span<double> positions);

/// <summary>
/// Kick-drift-kick leapfrog for one rank's block of particles [<see cref="First"/>,
/// <see cref="First"/> + <see cref="Count"/>).
/// </summary>
/// <remarks>
/// <para>
/// The state is (positions, velocities) at a step boundary. A step of length dt is
/// <c>v += a(x) dt/2; x += v dt; exchange positions; a = a(x); v += a dt/2</c>, where the first
/// a(x) is the acceleration cached by the previous step, or, right after construction or
/// <see cref="Load"/>, computed from the loaded positions after an exchange. The force kernel is
/// deterministic, so the recomputed value has the same bits as the cached one would have had: a run
/// restarted from the (positions, velocities) checkpointed after step k continues bit for bit as the
/// original run did, for any rank count.
/// </para>
/// <para>
/// <see cref="Step"/>, <see cref="EnsureAccelerations"/> and <see cref="PerParticleEnergies"/> are
/// <b>collective</b> when the exchange is: all ranks must call them in the same order.
/// </para>
/// </remarks>
public sealed class LeapfrogIntegrator
{
    private readonly double[] _masses;
    private readonly double[] _positions;
    private readonly double[] _velocities;
    private readonly double[] _accelerations;
    private readonly double _softening2;
    private readonly PositionExchange? _exchange;
    private bool _accelerationsValid;

    /// <summary>Creates an integrator for one block; its particles start at the origin at rest until <see cref="Load"/>.</summary>
    /// <param name="masses">All N masses (copied).</param>
    /// <param name="first">Global index of this rank's first particle.</param>
    /// <param name="count">Number of particles this rank owns.</param>
    /// <param name="softening">Plummer softening length eps (&gt;= 0).</param>
    /// <param name="exchange">
    /// Fills in the other ranks' positions; null for a single process that owns every particle.
    /// </param>
    public LeapfrogIntegrator(ReadOnlySpan<double> masses, int first, int count, double softening, PositionExchange? exchange)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(first);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(first, masses.Length - count);
        if (!(softening >= 0.0) || double.IsInfinity(softening))
        {
            throw new ArgumentOutOfRangeException(nameof(softening), softening, "The softening length must be finite and non-negative.");
        }

        if (exchange is null && (first != 0 || count != masses.Length))
        {
            throw new ArgumentException("Without a position exchange this rank must own every particle.", nameof(exchange));
        }

        _masses = masses.ToArray();
        _positions = new double[3 * masses.Length];
        _velocities = new double[3 * count];
        _accelerations = new double[3 * count];
        _softening2 = softening * softening;
        _exchange = exchange;
        First = first;
        Count = count;
    }

    /// <summary>Global index of this rank's first particle.</summary>
    public int First { get; }

    /// <summary>Number of particles this rank owns.</summary>
    public int Count { get; }

    /// <summary>Total number of particles N.</summary>
    public int TotalCount => _masses.Length;

    /// <summary>All N masses.</summary>
    public ReadOnlySpan<double> Masses => _masses;

    /// <summary>
    /// All 3N coordinates. This rank's block is always current; the other blocks are current after a
    /// <see cref="Step"/> or <see cref="EnsureAccelerations"/>.
    /// </summary>
    public ReadOnlySpan<double> Positions => _positions;

    /// <summary>This rank's positions (3 * <see cref="Count"/> values): what a checkpoint saves.</summary>
    public ReadOnlySpan<double> BlockPositions => _positions.AsSpan(3 * First, 3 * Count);

    /// <summary>This rank's velocities (3 * <see cref="Count"/> values): what a checkpoint saves.</summary>
    public ReadOnlySpan<double> BlockVelocities => _velocities;

    /// <summary>This rank's positions as memory a checkpointer can save and restore in place.</summary>
    public Memory<double> BlockPositionsMemory => _positions.AsMemory(3 * First, 3 * Count);

    /// <summary>This rank's velocities as memory a checkpointer can save and restore in place.</summary>
    public Memory<double> BlockVelocitiesMemory => _velocities.AsMemory();

    /// <summary>
    /// Declares that the block's positions or velocities were changed in place (e.g. restored from a snapshot through
    /// <see cref="BlockPositionsMemory"/>): accelerations are recomputed, after an exchange, at the next step.
    /// </summary>
    public void Reload() => _accelerationsValid = false;

    /// <summary>The softening length squared, eps^2.</summary>
    public double Softening2 => _softening2;

    /// <summary>
    /// Sets this rank's state, from initial conditions or a checkpoint. The accelerations are
    /// recomputed (after an exchange) at the next <see cref="Step"/>.
    /// </summary>
    /// <param name="blockPositions">This rank's positions (3 * <see cref="Count"/> values).</param>
    /// <param name="blockVelocities">This rank's velocities (3 * <see cref="Count"/> values).</param>
    public void Load(ReadOnlySpan<double> blockPositions, ReadOnlySpan<double> blockVelocities)
    {
        if (blockPositions.Length != 3 * Count)
        {
            throw new ArgumentException($"Expected {3 * Count} coordinates, got {blockPositions.Length}.", nameof(blockPositions));
        }

        if (blockVelocities.Length != 3 * Count)
        {
            throw new ArgumentException($"Expected {3 * Count} velocity components, got {blockVelocities.Length}.", nameof(blockVelocities));
        }

        blockPositions.CopyTo(_positions.AsSpan(3 * First));
        blockVelocities.CopyTo(_velocities);
        _accelerationsValid = false;
    }

    /// <summary>
    /// Makes <see cref="Positions"/> complete and the accelerations current, exchanging positions and
    /// evaluating forces only if they are not already (that is, after construction or <see cref="Load"/>).
    /// </summary>
    /// <remarks><b>Collective</b> when exchanging: every rank is in the same state, so all or none exchange.</remarks>
    public void EnsureAccelerations()
    {
        if (!_accelerationsValid)
        {
            ExchangeAndEvaluate();
        }
    }

    /// <summary>Advances this rank's block by one kick-drift-kick step of length <paramref name="dt"/>.</summary>
    /// <remarks><b>Collective</b>: calls the exchange once (twice on the first step after <see cref="Load"/>).</remarks>
    public void Step(double dt)
    {
        EnsureAccelerations();
        double halfDt = 0.5 * dt;
        Span<double> positions = _positions.AsSpan(3 * First, 3 * Count);
        for (int k = 0; k < _velocities.Length; k++)
        {
            _velocities[k] += _accelerations[k] * halfDt;
        }

        for (int k = 0; k < positions.Length; k++)
        {
            positions[k] += _velocities[k] * dt;
        }

        ExchangeAndEvaluate();
        for (int k = 0; k < _velocities.Length; k++)
        {
            _velocities[k] += _accelerations[k] * halfDt;
        }
    }

    /// <summary>
    /// This block's per-particle energies (kinetic_i, potential_i pairs, 2 * <see cref="Count"/> values) for
    /// <see cref="Diagnostics.SumEnergies"/> once gathered in rank order.
    /// </summary>
    /// <remarks><b>Collective</b> exactly when <see cref="EnsureAccelerations"/> is.</remarks>
    public void PerParticleEnergies(Span<double> energies)
    {
        EnsureAccelerations();
        Diagnostics.PerParticleEnergies(_positions, _velocities, _masses, First, Count, _softening2, energies);
    }

    private void ExchangeAndEvaluate()
    {
        _exchange?.Invoke(_positions);
        ForceKernel.Accelerations(_positions, _masses, First, Count, _softening2, _accelerations);
        _accelerationsValid = true;
    }
}

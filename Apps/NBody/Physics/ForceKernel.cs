using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Coordinated.Apps.NBody.Physics;

/// <summary>
/// Direct-summation gravity with Plummer softening, G = 1: the acceleration of target i is
/// <c>sum_j m_j (x_j - x_i) / (|x_j - x_i|^2 + eps^2)^(3/2)</c>.
/// </summary>
/// <remarks>
/// <para>
/// <b>Bitwise determinism.</b> Every target sums its sources in global index order j = 0 .. N-1 with
/// the same IEEE operations: <c>d = x_j - x_i</c> per axis, <c>r2 = ((dx*dx + dy*dy) + dz*dz) + eps2</c>,
/// <c>s = m_j / (r2 * sqrt(r2))</c>, <c>a += s * d</c> per axis; no fused multiply-add, sqrt and
/// division exactly rounded. The SIMD paths put one target in each lane and broadcast the source,
/// and a block whose size is not a multiple of the vector group is padded to a full group, so a
/// target's result depends neither on the lane it lands in nor on which other targets share its
/// call: any partition of the targets over ranks gives the same bits, and the 512-, 256- and
/// 128-bit paths give the same bits as the scalar path.
/// </para>
/// <para>
/// A pair with <c>r2 == 0</c> contributes exactly zero. With eps2 &gt; 0 that never happens and the
/// self pair contributes zero anyway (d = 0); with eps2 == 0 it removes the self pair (and pairs of
/// coincident particles) instead of producing NaN.
/// </para>
/// </remarks>
public static class ForceKernel
{
    /// <summary>Targets per group of the widest path: two 512-bit vectors of doubles.</summary>
    private const int MaxGroup = 16;

    /// <summary>The widest path this machine accelerates.</summary>
    internal static SimdPath BestPath =>
        Vector512.IsHardwareAccelerated ? SimdPath.Vector512
        : Vector256.IsHardwareAccelerated ? SimdPath.Vector256
        : Vector128.IsHardwareAccelerated ? SimdPath.Vector128
        : SimdPath.Scalar;

    /// <summary>
    /// Computes the accelerations of the targets [<paramref name="first"/>, <paramref name="first"/> +
    /// <paramref name="count"/>) due to all particles.
    /// </summary>
    /// <param name="positions">All N positions, interleaved x0, y0, z0, x1, ... (3N values).</param>
    /// <param name="masses">All N masses.</param>
    /// <param name="first">Global index of the first target.</param>
    /// <param name="count">Number of targets.</param>
    /// <param name="softening2">The squared softening length eps^2 (&gt;= 0).</param>
    /// <param name="accelerations">Receives the targets' accelerations, interleaved (3 * count values).</param>
    public static void Accelerations(
        ReadOnlySpan<double> positions,
        ReadOnlySpan<double> masses,
        int first,
        int count,
        double softening2,
        Span<double> accelerations) =>
        Accelerations(positions, masses, first, count, softening2, accelerations, BestPath);

    /// <summary>
    /// Computes the softened potential of the targets [<paramref name="first"/>, <paramref name="first"/> +
    /// <paramref name="count"/>): <c>phi_i = -sum_j m_j / sqrt(|x_j - x_i|^2 + eps^2)</c> over the
    /// pairs with nonzero separation (so without the self pair), summed in global index order.
    /// </summary>
    /// <remarks>Deterministic in the same sense as <see cref="Accelerations(ReadOnlySpan{double}, ReadOnlySpan{double}, int, int, double, Span{double})"/>.</remarks>
    /// <param name="positions">All N positions, interleaved (3N values).</param>
    /// <param name="masses">All N masses.</param>
    /// <param name="first">Global index of the first target.</param>
    /// <param name="count">Number of targets.</param>
    /// <param name="softening2">The squared softening length eps^2 (&gt;= 0).</param>
    /// <param name="potentials">Receives one potential per target (count values).</param>
    public static void Potentials(
        ReadOnlySpan<double> positions,
        ReadOnlySpan<double> masses,
        int first,
        int count,
        double softening2,
        Span<double> potentials) =>
        Potentials(positions, masses, first, count, softening2, potentials, BestPath);

    /// <summary>Whether <paramref name="path"/> can run on this machine.</summary>
    internal static bool IsSupported(SimdPath path) => path switch
    {
        SimdPath.Scalar => true,
        SimdPath.Vector128 => Vector128.IsHardwareAccelerated,
        SimdPath.Vector256 => Vector256.IsHardwareAccelerated,
        SimdPath.Vector512 => Vector512.IsHardwareAccelerated,
        _ => false,
    };

    /// <summary><see cref="Accelerations(ReadOnlySpan{double}, ReadOnlySpan{double}, int, int, double, Span{double})"/> on a chosen path.</summary>
    internal static void Accelerations(
        ReadOnlySpan<double> positions,
        ReadOnlySpan<double> masses,
        int first,
        int count,
        double softening2,
        Span<double> accelerations,
        SimdPath path)
    {
        Validate(positions, masses, first, count, softening2, path);
        if (accelerations.Length != 3 * count)
        {
            throw new ArgumentException($"Expected {3 * count} values (3 per target), got {accelerations.Length}.", nameof(accelerations));
        }

        switch (path)
        {
            case SimdPath.Vector512:
                AccelerationDispatch<Vector512Ops, Vector512<double>>(positions, masses, first, count, softening2, accelerations);
                break;
            case SimdPath.Vector256:
                AccelerationDispatch<Vector256Ops, Vector256<double>>(positions, masses, first, count, softening2, accelerations);
                break;
            case SimdPath.Vector128:
                AccelerationDispatch<Vector128Ops, Vector128<double>>(positions, masses, first, count, softening2, accelerations);
                break;
            default:
                AccelerationDispatch<ScalarOps, double>(positions, masses, first, count, softening2, accelerations);
                break;
        }
    }

    /// <summary><see cref="Potentials(ReadOnlySpan{double}, ReadOnlySpan{double}, int, int, double, Span{double})"/> on a chosen path.</summary>
    internal static void Potentials(
        ReadOnlySpan<double> positions,
        ReadOnlySpan<double> masses,
        int first,
        int count,
        double softening2,
        Span<double> potentials,
        SimdPath path)
    {
        Validate(positions, masses, first, count, softening2, path);
        if (potentials.Length != count)
        {
            throw new ArgumentException($"Expected {count} values (1 per target), got {potentials.Length}.", nameof(potentials));
        }

        switch (path)
        {
            case SimdPath.Vector512:
                PotentialKernel<Vector512Ops, Vector512<double>>(positions, masses, first, count, softening2, potentials);
                break;
            case SimdPath.Vector256:
                PotentialKernel<Vector256Ops, Vector256<double>>(positions, masses, first, count, softening2, potentials);
                break;
            case SimdPath.Vector128:
                PotentialKernel<Vector128Ops, Vector128<double>>(positions, masses, first, count, softening2, potentials);
                break;
            default:
                PotentialKernel<ScalarOps, double>(positions, masses, first, count, softening2, potentials);
                break;
        }
    }

    private static void Validate(
        ReadOnlySpan<double> positions,
        ReadOnlySpan<double> masses,
        int first,
        int count,
        double softening2,
        SimdPath path)
    {
        if (positions.Length != 3 * masses.Length)
        {
            throw new ArgumentException(
                $"Expected 3 coordinates per particle: {masses.Length} masses but {positions.Length} coordinates.",
                nameof(positions));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(first);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(first, masses.Length - count);
        if (!(softening2 >= 0.0) || double.IsInfinity(softening2))
        {
            throw new ArgumentOutOfRangeException(nameof(softening2), softening2, "The squared softening must be finite and non-negative.");
        }

        if (!IsSupported(path))
        {
            throw new PlatformNotSupportedException($"{path} is not accelerated on this machine.");
        }
    }

    /// <summary>
    /// Copies targets [first, first + filled) into structure-of-arrays rows of <paramref name="group"/>
    /// lanes each (x row, y row, z row, <see cref="MaxGroup"/> apart), repeating the last target in
    /// the lanes past <paramref name="filled"/> so that padding lanes compute ordinary finite values.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GatherTargets(ReadOnlySpan<double> positions, int first, int filled, int group, Span<double> rows)
    {
        for (int lane = 0; lane < group; lane++)
        {
            int i = first + Math.Min(lane, filled - 1);
            rows[lane] = positions[3 * i];
            rows[MaxGroup + lane] = positions[3 * i + 1];
            rows[2 * MaxGroup + lane] = positions[3 * i + 2];
        }
    }

    /// <summary>Picks the kernel with or without the r2 == 0 guard; both give the same bits when eps2 &gt; 0.</summary>
    private static void AccelerationDispatch<TOps, TVector>(
        ReadOnlySpan<double> positions,
        ReadOnlySpan<double> masses,
        int first,
        int count,
        double softening2,
        Span<double> accelerations)
        where TOps : struct, ISimdOps<TVector>
        where TVector : struct
    {
        // With eps2 > 0, r2 >= eps2 > 0 and the guard could never fire: leave it out.
        if (softening2 > 0.0)
        {
            AccelerationKernel<TOps, TVector, Unguarded>(positions, masses, first, count, softening2, accelerations);
        }
        else
        {
            AccelerationKernel<TOps, TVector, Guarded>(positions, masses, first, count, softening2, accelerations);
        }
    }

    /// <remarks>
    /// Two target vectors per pass over the sources: each loaded source feeds both, and their
    /// independent dependency chains give the out-of-order core more work to overlap with the long
    /// square-root and division latencies (on Zen 5 the divider is the limit either way).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit]
    private static void AccelerationKernel<TOps, TVector, TGuard>(
        ReadOnlySpan<double> positions,
        ReadOnlySpan<double> masses,
        int first,
        int count,
        double softening2,
        Span<double> accelerations)
        where TOps : struct, ISimdOps<TVector>
        where TVector : struct
        where TGuard : struct, IZeroGuard
    {
        int width = TOps.Width;
        int group = 2 * width;
        int n = masses.Length;
        Span<double> rows = stackalloc double[3 * MaxGroup];
        ref double row = ref MemoryMarshal.GetReference(rows);
        ref double sources = ref MemoryMarshal.GetReference(positions);
        ref double sourceMasses = ref MemoryMarshal.GetReference(masses);
        TVector eps2 = TOps.Broadcast(softening2);
        TVector zero = TOps.Broadcast(0.0);

        for (int start = 0; start < count; start += group)
        {
            int filled = Math.Min(group, count - start);
            GatherTargets(positions, first + start, filled, group, rows);
            TVector xa = TOps.Load(ref row);
            TVector xb = TOps.Load(ref Unsafe.Add(ref row, width));
            TVector ya = TOps.Load(ref Unsafe.Add(ref row, MaxGroup));
            TVector yb = TOps.Load(ref Unsafe.Add(ref row, MaxGroup + width));
            TVector za = TOps.Load(ref Unsafe.Add(ref row, 2 * MaxGroup));
            TVector zb = TOps.Load(ref Unsafe.Add(ref row, 2 * MaxGroup + width));
            TVector axa = zero, aya = zero, aza = zero;
            TVector axb = zero, ayb = zero, azb = zero;

            ref double source = ref sources;
            ref double sourceMass = ref sourceMasses;
            for (int j = 0; j < n; j++)
            {
                TVector xj = TOps.Broadcast(source);
                TVector yj = TOps.Broadcast(Unsafe.Add(ref source, 1));
                TVector zj = TOps.Broadcast(Unsafe.Add(ref source, 2));
                TVector mj = TOps.Broadcast(sourceMass);
                source = ref Unsafe.Add(ref source, 3);
                sourceMass = ref Unsafe.Add(ref sourceMass, 1);

                TVector dxa = TOps.Subtract(xj, xa);
                TVector dya = TOps.Subtract(yj, ya);
                TVector dza = TOps.Subtract(zj, za);
                TVector dxb = TOps.Subtract(xj, xb);
                TVector dyb = TOps.Subtract(yj, yb);
                TVector dzb = TOps.Subtract(zj, zb);

                TVector r2a = TOps.Add(TOps.Add(TOps.Add(TOps.Multiply(dxa, dxa), TOps.Multiply(dya, dya)), TOps.Multiply(dza, dza)), eps2);
                TVector r2b = TOps.Add(TOps.Add(TOps.Add(TOps.Multiply(dxb, dxb), TOps.Multiply(dyb, dyb)), TOps.Multiply(dzb, dzb)), eps2);
                TVector sa = TOps.Divide(mj, TOps.Multiply(r2a, TOps.Sqrt(r2a)));
                TVector sb = TOps.Divide(mj, TOps.Multiply(r2b, TOps.Sqrt(r2b)));
                if (TGuard.Enabled)
                {
                    sa = TOps.ZeroWhereZero(sa, r2a);
                    sb = TOps.ZeroWhereZero(sb, r2b);
                }

                axa = TOps.Add(axa, TOps.Multiply(sa, dxa));
                aya = TOps.Add(aya, TOps.Multiply(sa, dya));
                aza = TOps.Add(aza, TOps.Multiply(sa, dza));
                axb = TOps.Add(axb, TOps.Multiply(sb, dxb));
                ayb = TOps.Add(ayb, TOps.Multiply(sb, dyb));
                azb = TOps.Add(azb, TOps.Multiply(sb, dzb));
            }

            TOps.Store(axa, ref row);
            TOps.Store(axb, ref Unsafe.Add(ref row, width));
            TOps.Store(aya, ref Unsafe.Add(ref row, MaxGroup));
            TOps.Store(ayb, ref Unsafe.Add(ref row, MaxGroup + width));
            TOps.Store(aza, ref Unsafe.Add(ref row, 2 * MaxGroup));
            TOps.Store(azb, ref Unsafe.Add(ref row, 2 * MaxGroup + width));
            for (int lane = 0; lane < filled; lane++)
            {
                int k = 3 * (start + lane);
                accelerations[k] = rows[lane];
                accelerations[k + 1] = rows[MaxGroup + lane];
                accelerations[k + 2] = rows[2 * MaxGroup + lane];
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit]
    private static void PotentialKernel<TOps, TVector>(
        ReadOnlySpan<double> positions,
        ReadOnlySpan<double> masses,
        int first,
        int count,
        double softening2,
        Span<double> potentials)
        where TOps : struct, ISimdOps<TVector>
        where TVector : struct
    {
        int width = TOps.Width;
        int group = 2 * width;
        int n = masses.Length;
        Span<double> rows = stackalloc double[3 * MaxGroup];
        ref double row = ref MemoryMarshal.GetReference(rows);
        ref double sources = ref MemoryMarshal.GetReference(positions);
        ref double sourceMasses = ref MemoryMarshal.GetReference(masses);
        TVector eps2 = TOps.Broadcast(softening2);
        TVector zero = TOps.Broadcast(0.0);

        for (int start = 0; start < count; start += group)
        {
            int filled = Math.Min(group, count - start);
            GatherTargets(positions, first + start, filled, group, rows);
            TVector xa = TOps.Load(ref row);
            TVector xb = TOps.Load(ref Unsafe.Add(ref row, width));
            TVector ya = TOps.Load(ref Unsafe.Add(ref row, MaxGroup));
            TVector yb = TOps.Load(ref Unsafe.Add(ref row, MaxGroup + width));
            TVector za = TOps.Load(ref Unsafe.Add(ref row, 2 * MaxGroup));
            TVector zb = TOps.Load(ref Unsafe.Add(ref row, 2 * MaxGroup + width));
            TVector pa = zero, pb = zero;

            ref double source = ref sources;
            ref double sourceMass = ref sourceMasses;
            for (int j = 0; j < n; j++)
            {
                TVector xj = TOps.Broadcast(source);
                TVector yj = TOps.Broadcast(Unsafe.Add(ref source, 1));
                TVector zj = TOps.Broadcast(Unsafe.Add(ref source, 2));
                TVector mj = TOps.Broadcast(sourceMass);
                source = ref Unsafe.Add(ref source, 3);
                sourceMass = ref Unsafe.Add(ref sourceMass, 1);

                TVector dxa = TOps.Subtract(xj, xa);
                TVector dya = TOps.Subtract(yj, ya);
                TVector dza = TOps.Subtract(zj, za);
                TVector dxb = TOps.Subtract(xj, xb);
                TVector dyb = TOps.Subtract(yj, yb);
                TVector dzb = TOps.Subtract(zj, zb);

                TVector d2a = TOps.Add(TOps.Add(TOps.Multiply(dxa, dxa), TOps.Multiply(dya, dya)), TOps.Multiply(dza, dza));
                TVector d2b = TOps.Add(TOps.Add(TOps.Multiply(dxb, dxb), TOps.Multiply(dyb, dyb)), TOps.Multiply(dzb, dzb));
                pa = TOps.Add(pa, TOps.ZeroWhereZero(TOps.Divide(mj, TOps.Sqrt(TOps.Add(d2a, eps2))), d2a));
                pb = TOps.Add(pb, TOps.ZeroWhereZero(TOps.Divide(mj, TOps.Sqrt(TOps.Add(d2b, eps2))), d2b));
            }

            TOps.Store(pa, ref row);
            TOps.Store(pb, ref Unsafe.Add(ref row, width));
            for (int lane = 0; lane < filled; lane++)
            {
                potentials[start + lane] = -rows[lane];
            }
        }
    }
}

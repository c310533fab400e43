using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Coordinated.Apps.NBody.Physics;

/// <summary>The instruction sets the kernels can run on; every one computes the same bits.</summary>
internal enum SimdPath
{
    Scalar,
    Vector128,
    Vector256,
    Vector512,
}

/// <summary>
/// The few lane-wise operations the kernels use, over one vector type. The kernels are generic over
/// an implementation (a struct, so the JIT compiles one specialised copy per width and inlines
/// every call) and so run the same IEEE operations in the same order at every width, the scalar
/// path included. None of the operations fuses a multiply with an add.
/// </summary>
internal interface ISimdOps<TVector>
    where TVector : struct
{
    static abstract int Width { get; }

    static abstract TVector Broadcast(double value);

    static abstract TVector Load(ref double source);

    static abstract void Store(TVector value, ref double destination);

    static abstract TVector Add(TVector left, TVector right);

    static abstract TVector Subtract(TVector left, TVector right);

    static abstract TVector Multiply(TVector left, TVector right);

    static abstract TVector Divide(TVector left, TVector right);

    static abstract TVector Sqrt(TVector value);

    /// <summary>Lane-wise <c>test == 0 ? 0 : value</c>.</summary>
    static abstract TVector ZeroWhereZero(TVector value, TVector test);
}

internal readonly struct ScalarOps : ISimdOps<double>
{
    public static int Width => 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Broadcast(double value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Load(ref double source) => source;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(double value, ref double destination) => destination = value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Add(double left, double right) => left + right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Subtract(double left, double right) => left - right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Multiply(double left, double right) => left * right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Divide(double left, double right) => left / right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Sqrt(double value) => Math.Sqrt(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double ZeroWhereZero(double value, double test) => test == 0.0 ? 0.0 : value;
}

internal readonly struct Vector128Ops : ISimdOps<Vector128<double>>
{
    public static int Width => Vector128<double>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> Broadcast(double value) => Vector128.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> Load(ref double source) => Vector128.LoadUnsafe(ref source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector128<double> value, ref double destination) => value.StoreUnsafe(ref destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> Add(Vector128<double> left, Vector128<double> right) => left + right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> Subtract(Vector128<double> left, Vector128<double> right) => left - right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> Multiply(Vector128<double> left, Vector128<double> right) => left * right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> Divide(Vector128<double> left, Vector128<double> right) => left / right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> Sqrt(Vector128<double> value) => Vector128.Sqrt(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> ZeroWhereZero(Vector128<double> value, Vector128<double> test) =>
        Vector128.AndNot(value, Vector128.Equals(test, Vector128<double>.Zero));
}

internal readonly struct Vector256Ops : ISimdOps<Vector256<double>>
{
    public static int Width => Vector256<double>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> Broadcast(double value) => Vector256.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> Load(ref double source) => Vector256.LoadUnsafe(ref source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<double> value, ref double destination) => value.StoreUnsafe(ref destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> Add(Vector256<double> left, Vector256<double> right) => left + right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> Subtract(Vector256<double> left, Vector256<double> right) => left - right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> Multiply(Vector256<double> left, Vector256<double> right) => left * right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> Divide(Vector256<double> left, Vector256<double> right) => left / right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> Sqrt(Vector256<double> value) => Vector256.Sqrt(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> ZeroWhereZero(Vector256<double> value, Vector256<double> test) =>
        Vector256.AndNot(value, Vector256.Equals(test, Vector256<double>.Zero));
}

internal readonly struct Vector512Ops : ISimdOps<Vector512<double>>
{
    public static int Width => Vector512<double>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> Broadcast(double value) => Vector512.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> Load(ref double source) => Vector512.LoadUnsafe(ref source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<double> value, ref double destination) => value.StoreUnsafe(ref destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> Add(Vector512<double> left, Vector512<double> right) => left + right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> Subtract(Vector512<double> left, Vector512<double> right) => left - right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> Multiply(Vector512<double> left, Vector512<double> right) => left * right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> Divide(Vector512<double> left, Vector512<double> right) => left / right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> Sqrt(Vector512<double> value) => Vector512.Sqrt(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> ZeroWhereZero(Vector512<double> value, Vector512<double> test) =>
        Vector512.ConditionalSelect(Vector512.Equals(test, Vector512<double>.Zero), Vector512<double>.Zero, value);
}

/// <summary>
/// Whether a kernel zeroes the contribution of pairs with r2 == 0. That can only happen with zero
/// softening (r2 &gt;= eps2 otherwise), so kernels compiled without the guard compute the same bits
/// whenever eps2 &gt; 0, with fewer instructions.
/// </summary>
internal interface IZeroGuard
{
    static abstract bool Enabled { get; }
}

internal readonly struct Guarded : IZeroGuard
{
    public static bool Enabled => true;
}

internal readonly struct Unguarded : IZeroGuard
{
    public static bool Enabled => false;
}

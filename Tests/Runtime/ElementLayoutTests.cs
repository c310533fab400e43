using Coordinated.Checkpointing;

namespace Coordinated.Tests.Runtime;

/// <summary>Which element types the state registry accepts, and how they map onto HDF5 components.</summary>
public class ElementLayoutTests
{
    private readonly record struct Vec3(double X, double Y, double Z);

    private readonly record struct Nested(Vec3 A, double B);

    private readonly record struct Mixed(double A, int B);

    private readonly record struct Padded(int A, byte B);

    private static (Type Field, int Count)? Of<T>() where T : unmanaged =>
        ElementLayout.Of(typeof(T), System.Runtime.CompilerServices.Unsafe.SizeOf<T>());

    [Test]
    public void Primitives_are_one_component_of_themselves()
    {
        Assert.That(Of<ulong>(), Is.EqualTo((typeof(ulong), 1)));
        Assert.That(Of<uint>(), Is.EqualTo((typeof(uint), 1)));
        Assert.That(Of<bool>(), Is.EqualTo((typeof(bool), 1)));
        Assert.That(ElementLayout.SizeOf(typeof(bool)), Is.EqualTo(1), "bool is stored as one byte, 0 or 1");
    }

    [Test]
    public void Structs_of_one_primitive_flatten_into_components()
    {
        Assert.That(Of<Vec3>(), Is.EqualTo((typeof(double), 3)));
        Assert.That(Of<Nested>(), Is.EqualTo((typeof(double), 4)));
    }

    [Test]
    public void Mixed_padded_and_unsupported_types_are_refused()
    {
        Assert.That(Of<Mixed>(), Is.Null, "fields of two types");
        Assert.That(Of<Padded>(), Is.Null, "int + byte: mixed, and padded to 8 bytes");
        Assert.That(Of<short>(), Is.Null);
        Assert.That(Of<decimal>(), Is.Null);
    }
}

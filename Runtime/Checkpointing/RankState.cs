using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Coordinated.Checkpointing;

/// <summary>
/// Called on every rank after a restore with the per-rank state that each rank of the run that wrote the snapshot saved:
/// <paramref name="saved"/> holds <paramref name="savedRanks"/> blocks of <c>mine.Length</c> values, rank by rank.
/// Fill <paramref name="mine"/>. The app chooses what a change of rank count means: continue its own block when the
/// count is the same, re-seed (e.g. from its seed, its rank and the step), or split or merge the saved streams.
/// </summary>
public delegate void RankStateRestorer<T>(ReadOnlySpan<T> saved, int savedRanks, Span<T> mine) where T : unmanaged;

/// <summary>
/// Private state of each rank (such as an RNG stream), saved as <c>/state/NAME</c> with one row per writer rank. On
/// restore every rank reads all rows (whatever the writer rank count was) and an app callback decides; afterwards the
/// array writes one row per current rank again.
/// </summary>
internal abstract class RankStateArray(string name, int components, int rank, int ranks)
    : StateArray(name, components, rank, 1, ranks)
{
    private readonly int _rank = rank;
    private readonly int _ranks = ranks;

    /// <summary>Before reading a snapshot written by <paramref name="writerRanks"/> ranks: this rank reads all of their rows.</summary>
    internal void PrepareRead(long writerRanks)
    {
        GlobalCount = writerRanks;
        GlobalOffset = 0;
        LocalCount = writerRanks;
        Reading((int)writerRanks);
    }

    /// <summary>After a successful restore: hands the saved rows to the app, then goes back to one row per current rank.</summary>
    internal void Loaded()
    {
        Restore((int)GlobalCount);
        GlobalCount = _ranks;
        GlobalOffset = _rank;
        LocalCount = 1;
    }

    private protected abstract void Reading(int writerRanks);

    private protected abstract void Restore(int writerRanks);
}

/// <inheritdoc cref="RankStateArray"/>
internal sealed class RankStateArray<T> : RankStateArray where T : unmanaged
{
    private static readonly (Type Field, int Count)? Layout = ElementLayout.Of(typeof(T), Unsafe.SizeOf<T>());
    private readonly T[] _mine;
    private readonly RankStateRestorer<T> _restore;
    private T[]? _saved;

    internal RankStateArray(string name, T[] mine, int rank, int ranks, RankStateRestorer<T> restore)
        : base(name, mine.Length * (Layout ?? throw new ArgumentException($"rank state '{name}': element type {typeof(T).Name} is not supported.")).Count, rank, ranks)
    {
        _mine = mine;
        _restore = restore;
    }

    internal override int ValueSize => ElementLayout.SizeOf(Layout!.Value.Field);

    internal override int TypeClass => Layout!.Value.Field == typeof(double) || Layout.Value.Field == typeof(float) ? Interop.Hdf5.H5T_FLOAT : Interop.Hdf5.H5T_INTEGER;

    internal override long MemoryType => ElementLayout.MemoryType(Layout!.Value.Field);

    internal override long FileType => ElementLayout.FileType(Layout!.Value.Field);

    internal override string TypeName => typeof(T).Name.ToLowerInvariant();

    internal override Span<byte> Bytes => MemoryMarshal.AsBytes(_saved is null ? _mine.AsSpan() : _saved.AsSpan());

    private protected override void Reading(int writerRanks) => _saved = new T[writerRanks * _mine.Length];

    private protected override void Restore(int writerRanks)
    {
        var saved = _saved!;
        _saved = null;
        _restore(saved, writerRanks, _mine);
    }
}

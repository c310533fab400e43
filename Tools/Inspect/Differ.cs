using System.Runtime.InteropServices;
using System.Text.Json.Serialization;

namespace Coordinated.Inspect;

/// <summary>How one dataset (or attribute group) of two snapshots compares.</summary>
internal sealed record DatasetDiff
{
    public required string Dataset { get; init; }

    /// <summary>Bitwise equal (same type, shape and bytes).</summary>
    public bool Equal { get; init; }

    /// <summary>What differs when it is not a value comparison (missing, shape or type), else null.</summary>
    public string? Note { get; init; }

    [JsonPropertyName("differing_elements")]
    public long DifferingElements { get; init; }

    /// <summary>First differing element (row) and component.</summary>
    [JsonPropertyName("first_element")]
    public long? FirstElement { get; init; }

    [JsonPropertyName("first_component")]
    public int? FirstComponent { get; init; }

    [JsonPropertyName("first_a")]
    public double? FirstA { get; init; }

    [JsonPropertyName("first_b")]
    public double? FirstB { get; init; }

    [JsonPropertyName("max_abs")]
    public double? MaxAbs { get; init; }

    /// <summary>Largest |a - b| / max(|a|, |b|) over differing values.</summary>
    [JsonPropertyName("max_rel")]
    public double? MaxRel { get; init; }
}

/// <summary>
/// Compares two snapshots dataset by dataset: bitwise first (the runtime's restarts are bit-for-bit), then, where the
/// bytes differ, the first differing element and the largest absolute and relative difference.
/// </summary>
internal static class Differ
{
    internal static List<DatasetDiff> Compare(Snapshot a, Snapshot b)
    {
        var result = new List<DatasetDiff>();
        var names = a.State.Select(d => d.Name).Union(b.State.Select(d => d.Name)).ToList();
        foreach (string name in names)
        {
            StateDataset? da = a.State.FirstOrDefault(d => d.Name == name), db = b.State.FirstOrDefault(d => d.Name == name);
            string label = $"/state/{name}";
            if (da is null || db is null)
            {
                result.Add(new DatasetDiff { Dataset = label, Note = $"only in {(da is null ? "B" : "A")}" });
                continue;
            }

            if (da.Type != db.Type || da.Shape != db.Shape)
            {
                result.Add(new DatasetDiff { Dataset = label, Note = $"A is {da.Type} {da.Shape}, B is {db.Type} {db.Shape}" });
                continue;
            }

            result.Add(CompareValues(label, da, a, b));
        }

        result.Add(CompareAttributes("/params", a.Parameters, b.Parameters));
        result.Add(CompareAttributes("/scalars", a.Scalars, b.Scalars));
        return result;
    }

    /// <summary>Rows compared at a time: memory stays bounded whatever the dataset's size.</summary>
    private const long ChunkValues = 1 << 20;

    private static DatasetDiff CompareValues(string label, StateDataset d, Snapshot snapshotA, Snapshot snapshotB)
    {
        int size = d.ValueSize;
        long chunkRows = Math.Max(1, ChunkValues / d.Components);
        long differing = 0, first = -1;
        double firstA = 0, firstB = 0, maxAbs = 0, maxRel = 0;
        for (long row = 0; row < d.Count; row += chunkRows)
        {
            long rows = Math.Min(chunkRows, d.Count - row);
            byte[] a = snapshotA.ReadBytes(d, row, rows), b = snapshotB.ReadBytes(d, row, rows);
            if (a.AsSpan().SequenceEqual(b))
            {
                continue;
            }

            double[] va = ToDoubles(d.Type, a), vb = ToDoubles(d.Type, b);
            for (int i = 0; i < va.Length; i++)
            {
                // Bitwise per value: a NaN with the same bits, or +0 vs -0, is decided by the bytes, not by ==.
                if (a.AsSpan(i * size, size).SequenceEqual(b.AsSpan(i * size, size)))
                {
                    continue;
                }

                differing++;
                if (first < 0)
                {
                    first = (row * d.Components) + i;
                    (firstA, firstB) = (va[i], vb[i]);
                }

                double abs = Math.Abs(va[i] - vb[i]);
                double scale = Math.Max(Math.Abs(va[i]), Math.Abs(vb[i]));
                double rel = scale == 0 ? 0 : abs / scale;
                maxAbs = double.IsNaN(abs) || abs > maxAbs ? abs : maxAbs;
                maxRel = double.IsNaN(rel) || rel > maxRel ? rel : maxRel;
            }
        }

        return differing == 0
            ? new DatasetDiff { Dataset = label, Equal = true }
            : new DatasetDiff
            {
                Dataset = label,
                DifferingElements = differing,
                FirstElement = first / d.Components,
                FirstComponent = (int)(first % d.Components),
                FirstA = firstA,
                FirstB = firstB,
                MaxAbs = maxAbs,
                MaxRel = maxRel,
            };
    }

    private static DatasetDiff CompareAttributes(string label, IReadOnlyDictionary<string, object> a, IReadOnlyDictionary<string, object> b)
    {
        var differences = a.Keys.Union(b.Keys).Order(StringComparer.Ordinal)
            .Where(k => !Equals(a.GetValueOrDefault(k), b.GetValueOrDefault(k)))
            .Select(k => $"{k}: {Snapshot.Describe(a.GetValueOrDefault(k))} vs {Snapshot.Describe(b.GetValueOrDefault(k))}")
            .ToList();
        return new DatasetDiff { Dataset = label, Equal = differences.Count == 0, Note = differences.Count == 0 ? null : string.Join("; ", differences) };
    }

    private static double[] ToDoubles(string type, byte[] bytes) => type switch
    {
        "float64" => MemoryMarshal.Cast<byte, double>(bytes).ToArray(),
        "float32" => [.. MemoryMarshal.Cast<byte, float>(bytes).ToArray().Select(v => (double)v)],
        "int64" => [.. MemoryMarshal.Cast<byte, long>(bytes).ToArray().Select(v => (double)v)],
        "int32" => [.. MemoryMarshal.Cast<byte, int>(bytes).ToArray().Select(v => (double)v)],
        "uint64" => [.. MemoryMarshal.Cast<byte, ulong>(bytes).ToArray().Select(v => (double)v)],
        "uint32" => [.. MemoryMarshal.Cast<byte, uint>(bytes).ToArray().Select(v => (double)v)],
        _ => [.. bytes.Select(v => (double)v)],
    };
}

using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml;

namespace Coordinated.Checkpointing;

/// <summary>One <c>/state</c> dataset as an XDMF reader needs to know it.</summary>
/// <param name="Name">Dataset name under <c>/state</c>.</param>
/// <param name="NumberType">XDMF number type: <c>Float</c>, <c>Int</c> or <c>UInt</c>.</param>
/// <param name="Precision">Bytes per value (4 or 8; 1 for uint8).</param>
/// <param name="Count">First dimension (elements).</param>
/// <param name="Components">Second dimension, or 1 for a one-dimensional dataset.</param>
public sealed record XdmfArray(string Name, string NumberType, int Precision, long Count, int Components);

/// <summary>
/// Writes an XDMF (version 2) sidecar, <c>ckpt-&lt;step&gt;.xdmf</c>, that points into a snapshot's HDF5 datasets so
/// that ParaView and VisIt show particles as points (from <c>/state/pos</c>) with every other per-particle dataset as
/// a point attribute (<c>vel</c> as a vector): nothing is copied, the sidecar is a few hundred bytes of XML.
/// </summary>
public static partial class XdmfSidecar
{
    /// <summary>The dataset whose rows are point coordinates.</summary>
    public const string PositionName = "pos";

    [GeneratedRegex(@"^ckpt-(\d{9,})\.xdmf$")]
    private static partial Regex SidecarPattern();

    /// <summary>The sidecar's path for a snapshot file (same directory, <c>.xdmf</c> instead of <c>.h5</c>).</summary>
    public static string PathFor(string snapshotPath) => Path.ChangeExtension(snapshotPath, ".xdmf");

    /// <summary>
    /// Why a snapshot with these datasets cannot be shown as points, or null if it can: it needs a float dataset
    /// <c>pos</c> of shape <c>[N, 2]</c> or <c>[N, 3]</c>.
    /// </summary>
    public static string? WhyNot(IReadOnlyList<XdmfArray> arrays)
    {
        XdmfArray? pos = arrays.FirstOrDefault(a => a.Name == PositionName);
        if (pos is null)
        {
            return $"it has no /state/{PositionName} (datasets: {string.Join(", ", arrays.Select(a => a.Name))}); XDMF export needs particle positions of shape [N, 3]";
        }

        return pos.NumberType == "Float" && pos.Components is 2 or 3
            ? null
            : $"/state/{PositionName} is {pos.NumberType}{pos.Precision * 8} [{pos.Count}, {pos.Components}]; XDMF export needs float positions of shape [N, 2] or [N, 3]";
    }

    /// <summary>
    /// Writes the XDMF text for <paramref name="snapshotFileName"/> (a name relative to the sidecar, so the pair can
    /// be moved together) to <paramref name="writer"/>. Datasets whose first dimension is not the particle count are
    /// left out.
    /// </summary>
    public static void Render(TextWriter writer, string snapshotFileName, long step, IReadOnlyList<XdmfArray> arrays)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (WhyNot(arrays) is string why)
        {
            throw new ArgumentException(why, nameof(arrays));
        }

        XdmfArray pos = arrays.First(a => a.Name == PositionName);
        string n = pos.Count.ToString(CultureInfo.InvariantCulture);
        var settings = new XmlWriterSettings { Indent = true, IndentChars = "  ", NewLineChars = "\n", Encoding = new UTF8Encoding(false) };
        using var xml = XmlWriter.Create(writer, settings);
        xml.WriteStartDocument();
        xml.WriteDocType("Xdmf", null, "Xdmf.dtd", null);
        xml.WriteStartElement("Xdmf");
        xml.WriteAttributeString("Version", "2.0");
        xml.WriteStartElement("Domain");
        xml.WriteStartElement("Grid");
        xml.WriteAttributeString("Name", $"step {step.ToString(CultureInfo.InvariantCulture)}");
        xml.WriteAttributeString("GridType", "Uniform");

        // One vertex cell per point. The indices 0 .. N-1 are written inline (about 7 bytes per point at a million):
        // ParaView's XDMF 3 reader and meshio need them (without, one shows no cells and the other refuses the
        // file). Every value still comes from the HDF5 file.
        xml.WriteStartElement("Topology");
        xml.WriteAttributeString("TopologyType", "Polyvertex");
        xml.WriteAttributeString("NumberOfElements", n);
        xml.WriteAttributeString("NodesPerElement", "1");
        xml.WriteStartElement("DataItem");
        xml.WriteAttributeString("Dimensions", $"{n} 1");
        xml.WriteAttributeString("NumberType", "Int");
        xml.WriteAttributeString("Precision", "8");
        xml.WriteAttributeString("Format", "XML");
        WriteIota(xml, pos.Count);
        xml.WriteEndElement();
        xml.WriteEndElement();

        xml.WriteStartElement("Geometry");
        xml.WriteAttributeString("GeometryType", pos.Components == 3 ? "XYZ" : "XY");
        WriteDataItem(xml, snapshotFileName, pos);
        xml.WriteEndElement();

        foreach (XdmfArray a in arrays.Where(a => a.Name != PositionName && a.Count == pos.Count))
        {
            xml.WriteStartElement("Attribute");
            xml.WriteAttributeString("Name", a.Name);
            xml.WriteAttributeString("AttributeType", a.Components switch { 1 => "Scalar", 3 => "Vector", _ => "Matrix" });
            xml.WriteAttributeString("Center", "Node");
            WriteDataItem(xml, snapshotFileName, a);
            xml.WriteEndElement();
        }

        xml.WriteEndDocument();
        xml.Flush();
        writer.Write('\n');
    }

    /// <summary>
    /// 0 1 2 ... count-1, formatted into a reused buffer (digits need no XML escaping). Compiled optimised from the
    /// first call: sidecars are written rarely, and tier-0 code would make the first ones several times slower.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WriteIota(XmlWriter xml, long count)
    {
        char[] buffer = new char[64 * 1024];
        int used = 0;
        for (long i = 0; i < count; i++)
        {
            if (used > buffer.Length - 24)
            {
                xml.WriteRaw(buffer, 0, used);
                used = 0;
            }

            i.TryFormat(buffer.AsSpan(used), out int written, default, CultureInfo.InvariantCulture);
            used += written;
            buffer[used++] = i + 1 < count ? ' ' : '\n';
        }

        xml.WriteRaw(buffer, 0, used);
    }

    private static void WriteDataItem(XmlWriter xml, string file, XdmfArray a)
    {
        xml.WriteStartElement("DataItem");
        xml.WriteAttributeString("Dimensions", a.Components == 1
            ? a.Count.ToString(CultureInfo.InvariantCulture)
            : string.Create(CultureInfo.InvariantCulture, $"{a.Count} {a.Components}"));
        xml.WriteAttributeString("NumberType", a.NumberType);
        xml.WriteAttributeString("Precision", a.Precision.ToString(CultureInfo.InvariantCulture));
        xml.WriteAttributeString("Format", "HDF");
        xml.WriteString($"{file}:/state/{a.Name}");
        xml.WriteEndElement();
    }

    /// <summary>
    /// Writes the sidecar of <paramref name="snapshotPath"/> atomically (temporary file, then rename). Throws
    /// <see cref="ArgumentException"/> if the datasets cannot be shown as points, <see cref="IOException"/> if the write fails.
    /// </summary>
    public static string Write(string snapshotPath, long step, IReadOnlyList<XdmfArray> arrays)
    {
        string target = PathFor(snapshotPath);
        string temporary = target + ".tmp";
        using (var writer = new StreamWriter(temporary, append: false, new UTF8Encoding(false), bufferSize: 1 << 20))
        {
            Render(writer, Path.GetFileName(snapshotPath), step, arrays);
        }

        File.Move(temporary, target, overwrite: true);
        return target;
    }

    /// <summary>
    /// The runtime's hook at the commit point (rank 0, after the rename): writes the sidecar of the snapshot just
    /// committed and removes the sidecars of the snapshots retention is deleting (<paramref name="removed"/>) or has
    /// deleted. Never throws: a failure is a warning, the snapshot itself is committed either way. Local (no communication).
    /// </summary>
    internal static void AfterCommit(string directory, long step, IReadOnlyList<StateArray> arrays, IReadOnlyCollection<string> removed)
    {
        try
        {
            var described = arrays.Select(Describe).ToList();
            if (WhyNot(described) is string why)
            {
                Console.Error.WriteLine($"[coordinated] warning: --checkpoint-xdmf: no sidecar for step {step}: {why}");
                return;
            }

            Write(Path.Combine(directory, CheckpointDirectory.CommittedName(step)), step, described);
            foreach (string sidecar in Directory.EnumerateFiles(directory, "ckpt-*.xdmf"))
            {
                string snapshot = Path.ChangeExtension(sidecar, ".h5");
                if (SidecarPattern().IsMatch(Path.GetFileName(sidecar)) && (!File.Exists(snapshot) || removed.Contains(Path.GetFileName(snapshot))))
                {
                    File.Delete(sidecar);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"[coordinated] warning: --checkpoint-xdmf: could not write the sidecar of step {step}: {e.Message}");
        }
    }

    private static XdmfArray Describe(StateArray a) => new(
        a.Name,
        a.TypeName switch { "double" or "single" => "Float", "byte" or "uint32" or "uint64" => "UInt", _ => "Int" },
        a.ValueSize,
        a.GlobalCount,
        a.Components);
}

using System.Runtime.InteropServices;
using System.Text;
using Coordinated.Hdf5;
using static Coordinated.Interop.Hdf5;

namespace Coordinated.Checkpointing;

/// <summary>Groups and attributes (the snapshot's metadata). Collective like the rest of <see cref="SnapshotFile"/>.</summary>
internal sealed unsafe partial class SnapshotFile
{
    /// <summary>Creates a group (in a file opened for rewrite it must already exist).</summary>
    internal void CreateGroup(string path)
    {
        if (_rewrite)
        {
            Hdf5Exception.Check(H5Oclose(Hdf5Exception.Check(H5Oopen(_file, path, H5P_DEFAULT))));
            return;
        }

        Hdf5Exception.Check(H5Gclose(Hdf5Exception.Check(H5Gcreate2(_file, path, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT))));
    }

    /// <summary>Writes an attribute (in a file opened for rewrite, the old value is deleted first).</summary>
    internal void WriteAttribute(string objectPath, string name, object value)
    {
        long obj = OpenObject(objectPath);
        try
        {
            if (_rewrite && Hdf5Exception.Check(H5Aexists(obj, name)) > 0)
            {
                if (value is string text && ReadAttribute(objectPath, name) is string old && old == text)
                {
                    return; // unchanged (app, hosts, ...): rewriting a string would only add to the file's global heap
                }

                Hdf5Exception.Check(H5Adelete(obj, name));
            }

            switch (value)
            {
                case string s:
                    WriteStringAttribute(obj, name, s);
                    break;
                case long l:
                    WriteScalarAttribute(obj, name, Ids.StdI64LE, Ids.NativeInt64, &l);
                    break;
                case int i:
                    long li = i;
                    WriteScalarAttribute(obj, name, Ids.StdI64LE, Ids.NativeInt64, &li);
                    break;
                case double d:
                    WriteScalarAttribute(obj, name, Ids.IeeeF64LE, Ids.NativeDouble, &d);
                    break;
                default:
                    throw new ArgumentException($"Attribute {name}: unsupported type {value.GetType().Name}.");
            }
        }
        finally
        {
            CloseObject(objectPath, obj);
        }
    }

    private static void WriteScalarAttribute(long obj, string name, long fileType, long memType, void* value)
    {
        long space = Hdf5Exception.Check(H5Screate(H5S_SCALAR));
        try
        {
            long attr = Hdf5Exception.Check(H5Acreate2(obj, name, fileType, space, H5P_DEFAULT, H5P_DEFAULT));
            try
            {
                Hdf5Exception.Check(H5Awrite(attr, memType, value));
            }
            finally
            {
                H5Aclose(attr);
            }
        }
        finally
        {
            H5Sclose(space);
        }
    }

    private static void WriteStringAttribute(long obj, string name, string value)
    {
        long type = Hdf5Exception.Check(H5Tcopy(Ids.CS1));
        long space = -1;
        try
        {
            Hdf5Exception.Check(H5Tset_size(type, H5T_VARIABLE));
            Hdf5Exception.Check(H5Tset_cset(type, H5T_CSET_UTF8));
            space = Hdf5Exception.Check(H5Screate(H5S_SCALAR));
            long attr = Hdf5Exception.Check(H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT));
            try
            {
                byte[] utf8 = new byte[Encoding.UTF8.GetByteCount(value) + 1];
                Encoding.UTF8.GetBytes(value, utf8);
                fixed (byte* p = utf8)
                {
                    byte* pointer = p;
                    Hdf5Exception.Check(H5Awrite(attr, type, &pointer));
                }
            }
            finally
            {
                H5Aclose(attr);
            }
        }
        finally
        {
            if (space >= 0)
            {
                H5Sclose(space);
            }

            H5Tclose(type);
        }
    }
    // ---------------------------------------------------------------- reading

    internal bool Exists(string path) => Hdf5Exception.Check(H5Lexists(_file, path, H5P_DEFAULT)) > 0;

    /// <summary>Reads an attribute as string, long or double (whatever it is stored as); null when absent.</summary>
    internal object? ReadAttribute(string objectPath, string name)
    {
        long obj = OpenObject(objectPath);
        try
        {
            if (Hdf5Exception.Check(H5Aexists(obj, name)) == 0)
            {
                return null;
            }

            long attr = Hdf5Exception.Check(H5Aopen(obj, name, H5P_DEFAULT));
            long type = -1;
            try
            {
                type = Hdf5Exception.Check(H5Aget_type(attr));
                int typeClass = Hdf5Exception.Check(H5Tget_class(type));
                switch (typeClass)
                {
                    case H5T_INTEGER:
                        long l;
                        Hdf5Exception.Check(H5Aread(attr, Ids.NativeInt64, &l));
                        return l;
                    case H5T_FLOAT:
                        double d;
                        Hdf5Exception.Check(H5Aread(attr, Ids.NativeDouble, &d));
                        return d;
                    case H5T_STRING when Hdf5Exception.Check(H5Tis_variable_str(type)) > 0:
                        byte* p = null;
                        Hdf5Exception.Check(H5Aread(attr, type, &p));
                        string s = Marshal.PtrToStringUTF8((nint)p) ?? "";
                        H5free_memory(p);
                        return s;
                    case H5T_STRING:
                        int size = (int)H5Tget_size(type);
                        byte[] buffer = new byte[size];
                        fixed (byte* b = buffer)
                        {
                            Hdf5Exception.Check(H5Aread(attr, type, b));
                        }

                        return Encoding.UTF8.GetString(buffer).TrimEnd('\0', ' ');
                    default:
                        return $"(unsupported attribute type class {typeClass})";
                }
            }
            finally
            {
                if (type >= 0)
                {
                    H5Tclose(type);
                }

                H5Aclose(attr);
            }
        }
        finally
        {
            CloseObject(objectPath, obj);
        }
    }

    private long OpenObject(string path) =>
        path == "/" ? _file : Hdf5Exception.Check(Interop.Hdf5.H5Oopen(_file, path, H5P_DEFAULT));

    private static void CloseObject(string path, long obj)
    {
        if (path != "/")
        {
            Interop.Hdf5.H5Oclose(obj);
        }
    }
}

namespace Coordinated.Tests.Launcher;

/// <summary>Stand-ins for the programs the launcher scripts call (dotnet, apt-get, srun, scontrol, ...), put first on PATH.</summary>
internal static class StandIn
{
    /// <summary>Writes the bash script <paramref name="body"/> as the executable DIRECTORY/NAME.</summary>
    internal static void Write(string directory, string name, string body)
    {
        string path = Path.Combine(directory, name);
        Directory.CreateDirectory(directory);
        File.WriteAllText(path, "#!/bin/bash\n" + body.ReplaceLineEndings("\n") + "\n");
        File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
    }
}

namespace OpenDllm.Tests;

/// <summary>Locations tests read from: the repository root and the optional <c>../shared</c> folder beside it.</summary>
public static class TestPaths
{
    /// <summary>The folder holding OpenDllm.Notebooks.sln, found by walking up from the test binaries.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary><c>RepoRoot/../shared</c> when it exists (development machines and CI), else null.</summary>
    public static string? SharedDir { get; } =
        Directory.Exists(Path.Combine(RepoRoot, "..", "shared")) ? Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared")) : null;

    static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OpenDllm.Notebooks.sln"))) return dir.FullName;
        }
        throw new DirectoryNotFoundException($"no OpenDllm.Notebooks.sln above {AppContext.BaseDirectory}");
    }
}

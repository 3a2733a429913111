namespace OpenDllm.Evaluation;

/// <summary>
/// Where the benchmark files live. The project does not vendor them (data-scripts/benchmarks.md says where they come from);
/// the folder is, in order: an explicit argument, the <c>OPENDLLM_BENCHMARKS</c> environment variable, or
/// <c>../shared/data/benchmarks</c> beside the repository (found by walking up to <c>OpenDllm.Notebooks.sln</c>).
/// </summary>
public static class BenchmarkData
{
    /// <summary>The environment variable naming the benchmarks folder.</summary>
    public const string EnvironmentVariable = "OPENDLLM_BENCHMARKS";

    /// <summary>Resolves the benchmarks folder; throws <see cref="DirectoryNotFoundException"/> saying what was tried.</summary>
    public static string ResolveDirectory(string? directory = null)
    {
        if (!string.IsNullOrWhiteSpace(directory))
            return Directory.Exists(directory) ? Path.GetFullPath(directory)
                : throw new DirectoryNotFoundException($"{directory}: benchmarks folder not found");
        var fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
            return Directory.Exists(fromEnvironment) ? Path.GetFullPath(fromEnvironment)
                : throw new DirectoryNotFoundException($"{fromEnvironment}: benchmarks folder from {EnvironmentVariable} not found");
        return FindBesideRepository()
               ?? throw new DirectoryNotFoundException(
                   $"no benchmarks folder: pass --data DIR, set {EnvironmentVariable}, or place the files in ../shared/data/benchmarks " +
                   "beside the repository (data-scripts/benchmarks.md lists where to download them)");
    }

    /// <summary><c>../shared/data/benchmarks</c> beside the repository that holds the current or the application folder, if any.</summary>
    public static string? FindBesideRepository()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (!File.Exists(Path.Combine(dir.FullName, "OpenDllm.Notebooks.sln"))) continue;
                var candidate = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "data", "benchmarks"));
                if (Directory.Exists(candidate)) return candidate;
                break;
            }
        return null;
    }

    /// <summary>
    /// The data file of <paramref name="task"/> under <paramref name="directory"/>: the shipped layout
    /// (<c>humaneval/HumanEval.jsonl.gz</c>) or the bare file name directly in the folder.
    /// Throws <see cref="InvalidDataException"/> naming the expected path and the download URL when neither exists.
    /// </summary>
    public static string FileFor(BenchmarkTask task, string directory)
    {
        var nested = Path.Combine(directory, task.RelativePath());
        if (File.Exists(nested)) return nested;
        var flat = Path.Combine(directory, task.FileName());
        if (File.Exists(flat)) return flat;
        throw new InvalidDataException($"{nested}: benchmark file for '{task.Name()}' not found (nor {flat}); download it from " +
                                       $"{task.DownloadUrl()} (data-scripts/benchmarks.md)");
    }
}

using System.Text.Json;
using OpenDllm.Evaluation;
using Xunit.Abstractions;

namespace OpenDllm.Tests.Evaluation;

/// <summary>
/// The benchmark files in ../shared/data/benchmarks, when present. xunit v2 has no dynamic skip, so tests that need
/// them call <see cref="TryGetDirectory"/> and return early after writing a "SKIPPED: …" line.
/// </summary>
public static class BenchmarkTestData
{
    public static string? Directory { get; } =
        TestPaths.SharedDir is { } shared && System.IO.Directory.Exists(Path.Combine(shared, "data", "benchmarks"))
            ? Path.Combine(shared, "data", "benchmarks") : null;

    public static bool TryGetDirectory(ITestOutputHelper output, out string directory)
    {
        directory = Directory ?? "";
        if (Directory is null) output.WriteLine("SKIPPED: ../shared/data/benchmarks not found");
        return Directory is not null;
    }

    /// <summary>Writes a samples.jsonl with one sample per problem, the completion chosen by <paramref name="completion"/>.</summary>
    public static string WriteSamples(string directory, string name, IEnumerable<BenchmarkProblem> problems, Func<BenchmarkProblem, string> completion)
    {
        var path = Path.Combine(directory, name);
        File.WriteAllLines(path, problems.Select(p => JsonSerializer.Serialize(new { task_id = p.TaskId, completion = completion(p) })));
        return path;
    }
}

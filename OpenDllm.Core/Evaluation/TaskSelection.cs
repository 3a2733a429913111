using System.Text.Json;

namespace OpenDllm.Evaluation;

/// <summary>
/// Which problems of a benchmark a generation evaluation runs (<c>--tasks FILE</c>): a JSONL file whose rows name a
/// <c>task_id</c> (string or number) and optionally a <c>benchmark</c> (<see cref="BenchmarkTasks.Name"/>); rows of another
/// benchmark are ignored. The held-out file of <see cref="BenchmarkSftSet"/> is such a file.
/// </summary>
public static class TaskSelection
{
    /// <summary>The task ids of <paramref name="task"/> listed in <paramref name="path"/>, in file order.</summary>
    /// <exception cref="InvalidDataException">Unreadable file or row (named with its line), or no row for the benchmark.</exception>
    public static IReadOnlyList<string> Load(string path, BenchmarkTask task)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"--tasks {path}: file not found", path);
        var ids = new List<string>();
        int line = 0;
        foreach (var text in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            try
            {
                using var json = JsonDocument.Parse(text);
                var root = json.RootElement;
                if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("task_id", out var id))
                    throw new InvalidDataException($"{path}:{line}: expected a JSON object with field \"task_id\"");
                if (root.TryGetProperty("benchmark", out var benchmark) && benchmark.ValueKind == JsonValueKind.String && benchmark.GetString() != task.Name())
                    continue;
                ids.Add(id.ValueKind switch
                {
                    JsonValueKind.String => id.GetString()!,
                    JsonValueKind.Number => id.GetRawText(),
                    _ => throw new InvalidDataException($"{path}:{line}: field \"task_id\" is {id.ValueKind}, expected a string or a number"),
                });
            }
            catch (JsonException e) { throw new InvalidDataException($"{path}:{line}: not valid JSON ({e.Message})", e); }
        }
        return ids.Count > 0 ? ids : throw new InvalidDataException($"{path}: no task of benchmark {task.Name()} listed");
    }

    /// <summary>The problems whose ids are in <paramref name="ids"/>, in the benchmark's order; an id the benchmark lacks is an error.</summary>
    public static IReadOnlyList<BenchmarkProblem> Select(IReadOnlyList<BenchmarkProblem> problems, IReadOnlyCollection<string> ids, string source)
    {
        var wanted = ids.ToHashSet(StringComparer.Ordinal);
        var known = problems.Select(p => p.TaskId).ToHashSet(StringComparer.Ordinal);
        if (wanted.FirstOrDefault(id => !known.Contains(id)) is { } missing)
            throw new InvalidDataException($"{source}: task_id '{missing}' is not a problem of this benchmark");
        return problems.Where(p => wanted.Contains(p.TaskId)).ToList();
    }
}

using System.IO.Compression;
using System.Text;
using System.Text.Json;

namespace OpenDllm.Evaluation;

/// <summary>
/// Reads the official benchmark files exactly as shipped (SPEC §7.2, §7.3; field names in
/// ../shared/data/benchmarks/README.md): gzip JSON lines for HumanEval and the four infill files, JSON lines for
/// mbpp.jsonl, one JSON array for sanitized-mbpp.json. A missing or malformed file throws
/// <see cref="InvalidDataException"/> naming the file (and line); a problem without tests is kept with
/// <see cref="BenchmarkProblem.HasTests"/> false so that scoring records a per-task error instead.
/// </summary>
public static class BenchmarkLoader
{
    /// <summary>Loads <paramref name="task"/> from <paramref name="dataDirectory"/> (resolved by <see cref="BenchmarkData.ResolveDirectory"/>).</summary>
    public static IReadOnlyList<BenchmarkProblem> Load(BenchmarkTask task, string? dataDirectory = null) =>
        LoadFile(task, BenchmarkData.FileFor(task, BenchmarkData.ResolveDirectory(dataDirectory)));

    /// <summary>Loads <paramref name="task"/>'s problems from an explicit file.</summary>
    public static IReadOnlyList<BenchmarkProblem> LoadFile(BenchmarkTask task, string path)
    {
        if (!File.Exists(path)) throw new InvalidDataException($"{path}: benchmark file not found");
        if (task.IsEvalPlus()) return EvalPlusLoader.Load(task, path);
        var problems = new List<BenchmarkProblem>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (element, line) in ReadRecords(task, path))
        {
            BenchmarkProblem problem;
            try { problem = Parse(task, element); }
            catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException)
            {
                throw new InvalidDataException($"{path}:{line}: {e.Message}", e);
            }
            if (!seen.Add(problem.TaskId)) throw new InvalidDataException($"{path}:{line}: duplicate task_id '{problem.TaskId}'");
            problems.Add(problem);
        }
        if (problems.Count == 0) throw new InvalidDataException($"{path}: no problems in file");
        return problems;
    }

    /// <summary>Yields each record with its 1-based line number (array elements of sanitized MBPP count as line 1).</summary>
    static IEnumerable<(JsonElement Element, int Line)> ReadRecords(BenchmarkTask task, string path)
    {
        List<(JsonElement, int)> records = [];
        try
        {
            using var file = File.OpenRead(path);
            using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
            using var reader = new StreamReader(stream, new UTF8Encoding(false, throwOnInvalidBytes: true));
            if (task == BenchmarkTask.MbppSanitized)
            {
                using var document = JsonDocument.Parse(reader.ReadToEnd());
                if (document.RootElement.ValueKind != JsonValueKind.Array)
                    throw new InvalidDataException($"{path}: expected one JSON array of problems");
                int index = 0;
                foreach (var element in document.RootElement.EnumerateArray()) records.Add((element.Clone(), ++index));
                return records;
            }
            int line = 0;
            for (string? text; (text = reader.ReadLine()) is not null;)
            {
                line++;
                if (string.IsNullOrWhiteSpace(text)) continue;
                try
                {
                    using var document = JsonDocument.Parse(text);
                    records.Add((document.RootElement.Clone(), line));
                }
                catch (JsonException e) { throw new InvalidDataException($"{path}:{line}: malformed JSON ({e.Message})", e); }
            }
            return records;
        }
        catch (Exception e) when (e is JsonException or DecoderFallbackException or IOException and not FileNotFoundException)
        {
            throw new InvalidDataException($"{path}: unreadable benchmark file ({e.Message})", e);
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: unreadable benchmark file ({e.Message})", e);   // e.g. a corrupt gzip stream
        }
    }

    static BenchmarkProblem Parse(BenchmarkTask task, JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object) throw new FormatException("expected a JSON object per problem");
        var taskId = e.GetProperty("task_id") is var id && id.ValueKind == JsonValueKind.Number ? id.GetRawText() : Required(e, "task_id");
        return task switch
        {
            BenchmarkTask.Mbpp => new BenchmarkProblem(task, taskId, Required(e, "text"), Optional(e, "code"), Asserts(e, out var full),
                TestList: full, TestSetup: Optional(e, "test_setup_code")),
            BenchmarkTask.MbppSanitized => new BenchmarkProblem(task, taskId, Required(e, "prompt"), Optional(e, "code"), Asserts(e, out var list),
                TestList: list, TestSetup: string.Join("\n", Strings(e, "test_imports"))),
            _ => new BenchmarkProblem(task, taskId, Required(e, "prompt"), Optional(e, "canonical_solution"), Optional(e, "test"),
                EntryPoint: Optional(e, "entry_point"), Suffix: task.IsInfill() ? Required(e, "suffix") : null),
        };
    }

    static string Asserts(JsonElement e, out IReadOnlyList<string> list)
    {
        list = Strings(e, "test_list");
        return string.Join("\n", list);
    }

    static string Required(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()!
            : throw new FormatException($"missing or non-string field '{name}'");

    static string Optional(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";

    static IReadOnlyList<string> Strings(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array
            ? v.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!).ToArray()
            : [];
}

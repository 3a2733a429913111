using System.IO.Compression;
using System.Text;
using System.Text.Json;

namespace OpenDllm.Evaluation;

/// <summary>
/// Reads EvalPlus's HumanEval+ (<c>HumanEvalPlus.jsonl.gz</c>, 164 tasks) and MBPP+ (<c>MbppPlus.jsonl.gz</c>, 378 tasks)
/// releases as shipped: one JSON object per line with <c>task_id</c>, <c>prompt</c>, <c>entry_point</c>,
/// <c>canonical_solution</c>, <c>base_input</c>, <c>plus_input</c>, <c>atol</c> (and <c>contract</c>, <c>test</c>, …,
/// which scoring does not need). The inputs may hold Python's <c>NaN</c>/<c>Infinity</c> literals, which JSON lacks; the
/// row is therefore kept verbatim (<see cref="BenchmarkProblem.EvalPlusRow"/>) and parsed again by Python inside the
/// program (<see cref="EvalPlusProgram"/>), and here only with those literals read as null.
/// </summary>
public static class EvalPlusLoader
{
    static readonly string[] RequiredInputs = ["base_input", "plus_input"];

    /// <summary>Loads <paramref name="task"/> (<see cref="BenchmarkTask.HumanEvalPlus"/> or <see cref="BenchmarkTask.MbppPlus"/>) from <paramref name="path"/>.</summary>
    public static IReadOnlyList<BenchmarkProblem> Load(BenchmarkTask task, string path)
    {
        if (!task.IsEvalPlus()) throw new ArgumentException($"{task.Name()} is not an EvalPlus task", nameof(task));
        if (!File.Exists(path)) throw new InvalidDataException($"{path}: benchmark file not found");
        var problems = new List<BenchmarkProblem>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int line = 0;
        try
        {
            using var file = File.OpenRead(path);
            using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
            using var reader = new StreamReader(stream, new UTF8Encoding(false, throwOnInvalidBytes: true));
            for (string? text; (text = reader.ReadLine()) is not null;)
            {
                line++;
                if (string.IsNullOrWhiteSpace(text)) continue;
                BenchmarkProblem problem;
                try { problem = Parse(task, text); }
                catch (Exception e) when (e is JsonException or FormatException)
                {
                    throw new InvalidDataException($"{path}:{line}: {e.Message}", e);
                }
                if (!seen.Add(problem.TaskId)) throw new InvalidDataException($"{path}:{line}: duplicate task_id '{problem.TaskId}'");
                problems.Add(problem);
            }
        }
        catch (Exception e) when (e is DecoderFallbackException or IOException and not FileNotFoundException
                                  || e is InvalidDataException && !e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: unreadable benchmark file ({e.Message})", e);
        }
        return problems.Count > 0 ? problems : throw new InvalidDataException($"{path}: no problems in file");
    }

    static BenchmarkProblem Parse(BenchmarkTask task, string text)
    {
        using var document = JsonDocument.Parse(WithoutNamedFloats(text));
        var e = document.RootElement;
        if (e.ValueKind != JsonValueKind.Object) throw new FormatException("expected a JSON object per problem");
        string Field(string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()!
            : throw new FormatException($"missing or non-string field '{name}'");
        foreach (var name in RequiredInputs)
            if (!e.TryGetProperty(name, out var v) || v.ValueKind != JsonValueKind.Array)
                throw new FormatException($"missing field '{name}' (a list of argument lists)");
            else if (v.EnumerateArray().Any(a => a.ValueKind != JsonValueKind.Array))
                throw new FormatException($"'{name}' must hold one argument list per test input");
        if (e.TryGetProperty("atol", out var atol) && atol.ValueKind is not (JsonValueKind.Number or JsonValueKind.Null))
            throw new FormatException("'atol' must be a number");
        var entry = Field("entry_point");
        if (entry.Length == 0) throw new FormatException("empty 'entry_point'");
        return new BenchmarkProblem(task, Field("task_id"), Field("prompt"), Field("canonical_solution"), Test: "",
            EntryPoint: entry, EvalPlusRow: text);
    }

    /// <summary>The JSON text with bare <c>NaN</c>, <c>Infinity</c> and <c>-Infinity</c> outside strings replaced by <c>null</c>.</summary>
    internal static string WithoutNamedFloats(string json)
    {
        var b = new StringBuilder(json.Length);
        bool inString = false;
        for (int i = 0; i < json.Length; i++)
        {
            char c = json[i];
            if (inString)
            {
                b.Append(c);
                if (c == '\\' && i + 1 < json.Length) b.Append(json[++i]);
                else if (c == '"') inString = false;
                continue;
            }
            if (c == '"') { inString = true; b.Append(c); continue; }
            string? word = Match(json, i, "-Infinity") ?? Match(json, i, "Infinity") ?? Match(json, i, "NaN");
            if (word is not null) { b.Append("null"); i += word.Length - 1; continue; }
            b.Append(c);
        }
        return b.ToString();
    }

    static string? Match(string s, int at, string word) => string.CompareOrdinal(s, at, word, 0, word.Length) == 0 ? word : null;
}

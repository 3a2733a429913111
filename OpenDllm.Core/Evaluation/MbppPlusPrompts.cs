using System.Globalization;

namespace OpenDllm.Evaluation;

/// <summary>
/// The prompts of MBPP+ generation (SPEC §7.2). The anchors prompt MBPP+ exactly as MBPP: Open-dLLM's lm-eval task
/// <c>mbpp_plus</c> reads the Hugging Face set <c>evalplus/mbppplus</c>, whose <c>prompt</c> and <c>test_list</c> are those of
/// sanitized MBPP for the same task number (EvalPlus builds it with <c>tools/mbpp/to_original_fmt.py</c>), and formats them
/// with <see cref="PromptFormats.MbppPrompt"/>. The EvalPlus release rows (<c>MbppPlus.jsonl.gz</c>) carry a docstring
/// prompt with one assert instead, so the text and asserts come from <c>sanitized-mbpp.json</c>: the prompt for
/// <c>Mbpp/N</c> is the one <c>opendllm eval mbpp-sanitized</c> uses for task N. The release's own prompt stays the
/// program's prefix when scoring (<see cref="EvalPlusProgram"/>: <c>prompt + completion</c>, as EvalPlus runs a
/// <c>completion</c> sample).
/// </summary>
public static class MbppPlusPrompts
{
    /// <summary>The benchmark file the prompts come from, besides MBPP+'s own.</summary>
    public const BenchmarkTask Source = BenchmarkTask.MbppSanitized;

    /// <summary>The MBPP task number of an MBPP+ id: <c>Mbpp/2</c> → 2.</summary>
    /// <exception cref="FormatException">The id is not <c>Mbpp/N</c>.</exception>
    public static int TaskNumber(string taskId)
    {
        const string prefix = "Mbpp/";
        return taskId.StartsWith(prefix, StringComparison.Ordinal)
               && int.TryParse(taskId.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int n)
            ? n : throw new FormatException($"MBPP+ task_id '{taskId}' is not of the form Mbpp/N");
    }

    /// <summary>
    /// The prompt of every MBPP+ problem in <paramref name="mbppPlus"/>, by task id, built from the sanitized MBPP
    /// problems <paramref name="sanitized"/> (read from <paramref name="sanitizedFile"/>, named in errors).
    /// </summary>
    /// <exception cref="InvalidDataException">An MBPP+ task whose number sanitized MBPP lacks, or an id not of the form Mbpp/N.</exception>
    public static IReadOnlyDictionary<string, string> Build(IReadOnlyList<BenchmarkProblem> mbppPlus, IReadOnlyList<BenchmarkProblem> sanitized,
                                                            string sanitizedFile)
    {
        var byNumber = sanitized.ToDictionary(p => p.TaskId, StringComparer.Ordinal);
        var prompts = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var problem in mbppPlus)
        {
            int number;
            try { number = TaskNumber(problem.TaskId); }
            catch (FormatException e) { throw new InvalidDataException(e.Message, e); }
            if (!byNumber.TryGetValue(number.ToString(CultureInfo.InvariantCulture), out var source))
                throw new InvalidDataException($"{sanitizedFile}: no task_id {number}, which MBPP+ {problem.TaskId} takes its prompt text and tests from");
            prompts[problem.TaskId] = PromptFormats.MbppPrompt(source);
        }
        return prompts;
    }

    /// <summary>The prompts of <paramref name="mbppPlus"/>, with sanitized MBPP read from the benchmarks folder
    /// (<see cref="BenchmarkData.ResolveDirectory"/>); a missing file is an error naming the expected path.</summary>
    public static IReadOnlyDictionary<string, string> Load(IReadOnlyList<BenchmarkProblem> mbppPlus, string? dataDirectory)
    {
        var file = SourceFile(dataDirectory);
        return Build(mbppPlus, BenchmarkLoader.LoadFile(Source, file), file);
    }

    /// <summary>The sanitized MBPP file in the benchmarks folder; throws <see cref="InvalidDataException"/> naming the
    /// expected path, and why MBPP+ needs it, when it is missing.</summary>
    public static string SourceFile(string? dataDirectory)
    {
        try { return BenchmarkData.FileFor(Source, BenchmarkData.ResolveDirectory(dataDirectory)); }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{e.Message}; mbpp-plus generation prompts with each task's text and tests from it", e);
        }
    }
}

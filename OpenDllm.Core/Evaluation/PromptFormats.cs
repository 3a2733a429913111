namespace OpenDllm.Evaluation;

/// <summary>
/// Prompts and completion post-processing for base (non-chat) diffusion models, as SPEC §7.2 describes
/// Open-dLLM's eval_completion: HumanEval is prompted with the raw prompt and cut at its stop strings, then
/// sanitized (<see cref="CodeSanitizer"/>); MBPP is prompted with the problem text and three asserts and its
/// completion is cut, stripped and freed of code fences.
/// </summary>
public static class PromptFormats
{
    /// <summary>HumanEval stop strings; the continuation is split at the first occurrence of any of them.</summary>
    public static IReadOnlyList<string> HumanEvalStops { get; } = ["\nclass", "\ndef", "\n#", "\nif", "\nprint"];

    /// <summary>MBPP stop strings (no <c>\ndef</c>: an MBPP answer may define helpers).</summary>
    public static IReadOnlyList<string> MbppStops { get; } = ["\nclass", "\n#", "\nif", "\nprint"];

    /// <summary>The HumanEval prompt: the raw <c>prompt</c> field (signature + docstring), 0-shot.</summary>
    public static string HumanEvalPrompt(BenchmarkProblem problem) => problem.Prompt;

    /// <summary>
    /// The MBPP prompt <c>"{text} Your code should pass these tests:\n\n{t0}\n{t1}\n{t2}```python\n"</c>;
    /// note that no newline precedes the fence (SPEC §7.2). Uses the first three asserts.
    /// </summary>
    public static string MbppPrompt(BenchmarkProblem problem)
    {
        var tests = problem.TestList ?? [];
        return $"{problem.Prompt} Your code should pass these tests:\n\n{string.Join("\n", tests.Take(3))}```python\n";
    }

    /// <summary>True when <paramref name="task"/> is prompted and post-processed as MBPP: full and sanitized MBPP, and MBPP+
    /// (SPEC §7.2 "MBPP(+)"; <see cref="MbppPlusPrompts"/>). HumanEval and HumanEval+ use the HumanEval format.</summary>
    public static bool UsesMbppFormat(BenchmarkTask task) => task.IsMbpp() || task == BenchmarkTask.MbppPlus;

    /// <summary>
    /// The completion prompt of each of <paramref name="problems"/> (of <paramref name="task"/>): <see cref="MbppPrompt"/> for
    /// MBPP, the same built from sanitized MBPP's text and tests for MBPP+ (<see cref="MbppPlusPrompts"/>, read from
    /// <paramref name="dataDirectory"/>), else <see cref="HumanEvalPrompt"/>.
    /// </summary>
    public static Func<BenchmarkProblem, string> CompletionPrompts(BenchmarkTask task, IReadOnlyList<BenchmarkProblem> problems, string? dataDirectory)
    {
        if (task == BenchmarkTask.MbppPlus)
        {
            var prompts = MbppPlusPrompts.Load(problems, dataDirectory);
            return problem => prompts[problem.TaskId];
        }
        return task.IsMbpp() ? MbppPrompt : HumanEvalPrompt;
    }

    /// <summary>The text before the first occurrence of any stop string (the whole text when none occurs).</summary>
    public static string TruncateAtStops(string text, IEnumerable<string> stops)
    {
        int cut = text.Length;
        foreach (var stop in stops)
        {
            if (stop.Length == 0) continue;
            int at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && at < cut) cut = at;
        }
        return text[..cut];
    }

    /// <summary>
    /// HumanEval post-processing: cut the continuation at <see cref="HumanEvalStops"/>, then
    /// <c>sanitize(prompt + "\n" + continuation, entry_point)</c>. The result is a whole program prefix
    /// (run it with <see cref="ProgramBuilder.HumanEvalPrediction"/>).
    /// </summary>
    public static string HumanEvalPostProcess(BenchmarkProblem problem, string continuation, CodeSanitizer sanitizer) =>
        sanitizer.Sanitize(problem.Prompt + "\n" + TruncateAtStops(continuation, HumanEvalStops), problem.EntryPoint);

    /// <summary>MBPP post-processing: cut at <see cref="MbppStops"/>, strip, and remove every "```".</summary>
    public static string MbppPostProcess(string continuation) =>
        TruncateAtStops(continuation, MbppStops).Trim().Replace("```", "", StringComparison.Ordinal);

    /// <summary>
    /// The <c>completion</c> a samples file stores for the generated continuation <paramref name="text"/> of
    /// <paramref name="problem"/>. MBPP and MBPP+ (<see cref="UsesMbppFormat"/>): <see cref="MbppPostProcess"/>, the whole code
    /// (MBPP+ runs it after its docstring prompt); with <paramref name="stopStrings"/> off only stripped and freed of fences.
    /// HumanEval(+): <see cref="HumanEvalPostProcess"/> (stop strings off: sanitize only, Fast-dLLM/Dream's escape_until);
    /// the sanitized program contains the prompt and the official format wants what follows it, so this is the program after
    /// the prompt when it starts with it, else the whole program.
    /// </summary>
    public static string SampleCompletion(BenchmarkProblem problem, string text, bool stopStrings, CodeSanitizer sanitizer)
    {
        if (UsesMbppFormat(problem.Task))
            return stopStrings ? MbppPostProcess(text) : text.Trim().Replace("```", "", StringComparison.Ordinal);
        var program = stopStrings ? HumanEvalPostProcess(problem, text, sanitizer) : sanitizer.Sanitize(problem.Prompt + "\n" + text, problem.EntryPoint);
        return program.StartsWith(problem.Prompt, StringComparison.Ordinal) ? program[problem.Prompt.Length..] : program;
    }
}

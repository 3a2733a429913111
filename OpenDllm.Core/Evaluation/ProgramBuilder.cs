namespace OpenDllm.Evaluation;

/// <summary>
/// Assembles the Python program that checks one completion (SPEC §7.2, §7.3). The program exits normally exactly
/// when every test passes.
/// </summary>
public static class ProgramBuilder
{
    /// <summary>
    /// The program for a sample in the official format, by task: HumanEval
    /// <c>prompt + completion + "\n" + test + "\n" + f"check({entry_point})"</c>; infill
    /// <c>prompt + middle + suffix + "\n" + test + "\n" + f"check({entry_point})"</c> (the sample's completion is the
    /// middle); MBPP <c>test_imports + code + tests</c> (the completion is the whole code); HumanEval+/MBPP+ EvalPlus's
    /// differential test of <c>prompt + completion</c> (<see cref="EvalPlusProgram"/>).
    /// </summary>
    public static string Build(BenchmarkProblem problem, string completion) => problem.Task switch
    {
        BenchmarkTask.HumanEval => HumanEval(problem, completion),
        _ when problem.Task.IsInfill() => Infill(problem, completion),
        _ when problem.Task.IsEvalPlus() => EvalPlusProgram.Build(problem, completion),
        _ => Mbpp(problem, completion),
    };

    /// <summary>HumanEval: <c>prompt + completion + "\n" + test + "\n" + f"check({entry_point})"</c> (openai/human-eval).</summary>
    public static string HumanEval(BenchmarkProblem problem, string completion) =>
        problem.Prompt + completion + "\n" + problem.Test + "\n" + $"check({problem.EntryPoint})" + "\n";

    /// <summary>A sanitized HumanEval prediction (a whole program prefix): <c>prediction + "\n" + test + "\n" + check(entry_point)</c>.</summary>
    public static string HumanEvalPrediction(BenchmarkProblem problem, string prediction) =>
        prediction + "\n" + problem.Test + "\n" + $"check({problem.EntryPoint})" + "\n";

    /// <summary>HumanEval-Infill: <c>prompt + middle + suffix + "\n" + test + "\n" + f"check({entry_point})"</c> (openai/human-eval-infilling).</summary>
    public static string Infill(BenchmarkProblem problem, string middle) =>
        problem.Prompt + middle + problem.Suffix + "\n" + problem.Test + "\n" + $"check({problem.EntryPoint})" + "\n";

    /// <summary>
    /// MBPP: <c>test_imports + "\n" + code + "\n" + tests</c>. For full MBPP the setup is <c>test_setup_code</c>,
    /// which uses names the code defines (e.g. a <c>Node</c> class), so it goes after the code.
    /// </summary>
    public static string Mbpp(BenchmarkProblem problem, string code) => problem.Task == BenchmarkTask.Mbpp
        ? code + "\n" + problem.TestSetup + "\n" + problem.Test + "\n"
        : problem.TestSetup + "\n" + code + "\n" + problem.Test + "\n";
}

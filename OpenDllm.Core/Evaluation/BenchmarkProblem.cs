namespace OpenDllm.Evaluation;

/// <summary>
/// One benchmark problem, normalised across HumanEval, MBPP and HumanEval-Infill (SPEC §7.2, §7.3).
/// Which fields matter depends on <see cref="Task"/>; <see cref="ProgramBuilder"/> knows how to assemble them.
/// </summary>
/// <param name="Task">The benchmark this problem belongs to.</param>
/// <param name="TaskId">The file's task_id as a string (MBPP's integer ids are written in decimal).</param>
/// <param name="Prompt">HumanEval: signature + docstring; infill: the prefix; MBPP: the problem statement (<c>text</c> / <c>prompt</c>).</param>
/// <param name="CanonicalSolution">HumanEval: the body; infill: the missing middle; MBPP: the reference <c>code</c>.</param>
/// <param name="Test">HumanEval/infill: the <c>test</c> code defining <c>check(candidate)</c>; MBPP: the asserts joined by newlines.</param>
/// <param name="EntryPoint">The function under test (HumanEval/infill); null for MBPP.</param>
/// <param name="Suffix">Infill only: the code after the middle.</param>
/// <param name="TestList">MBPP only: the assert statements (the prompt shows the first three).</param>
/// <param name="TestSetup">MBPP only: <c>test_imports</c> (sanitized) or <c>test_setup_code</c> (full), may be empty.</param>
/// <param name="EvalPlusRow">HumanEval+/MBPP+ only: the file's JSON line verbatim (inputs, atol), read by <see cref="EvalPlusProgram"/>.</param>
public sealed record BenchmarkProblem(
    BenchmarkTask Task,
    string TaskId,
    string Prompt,
    string CanonicalSolution,
    string Test,
    string? EntryPoint = null,
    string? Suffix = null,
    IReadOnlyList<string>? TestList = null,
    string TestSetup = "",
    string? EvalPlusRow = null)
{
    /// <summary>False when the file gave this problem no tests: scoring it yields an error record, not a pass.</summary>
    public bool HasTests => Task.IsEvalPlus() ? EvalPlusRow is not null && !string.IsNullOrWhiteSpace(EntryPoint)
        : !string.IsNullOrWhiteSpace(Test) && (Task.IsMbpp() || !string.IsNullOrWhiteSpace(EntryPoint));
}

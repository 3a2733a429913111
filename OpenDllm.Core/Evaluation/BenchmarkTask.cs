namespace OpenDllm.Evaluation;

/// <summary>
/// The code benchmarks OpenDllm can score (SPEC §7.2 HumanEval/MBPP, §7.3 HumanEval-Infill).
/// Each has a command-line name (<see cref="BenchmarkTasks.Name"/>) and one data file, read exactly as shipped.
/// </summary>
public enum BenchmarkTask
{
    /// <summary>openai/human-eval, 164 problems; program = prompt + completion + test + check(entry_point).</summary>
    HumanEval,
    /// <summary>google-research mbpp.jsonl, 974 problems (text, code, test_setup_code, test_list).</summary>
    Mbpp,
    /// <summary>google-research sanitized-mbpp.json, 427 hand-verified problems (prompt, code, test_imports, test_list).</summary>
    MbppSanitized,
    /// <summary>HumanEval-SingleLineInfilling, 1,033 tasks.</summary>
    HumanEvalInfillSingleLine,
    /// <summary>HumanEval-MultiLineInfilling, 5,815 tasks.</summary>
    HumanEvalInfillMultiLine,
    /// <summary>HumanEval-RandomSpanInfilling, 1,640 tasks.</summary>
    HumanEvalInfillRandomSpan,
    /// <summary>HumanEval-RandomSpanInfillingLight, 164 tasks.</summary>
    HumanEvalInfillRandomSpanLight,
    /// <summary>EvalPlus HumanEval+ (HumanEvalPlus.jsonl.gz, 164 tasks): base and plus inputs checked against the canonical solution.</summary>
    HumanEvalPlus,
    /// <summary>EvalPlus MBPP+ (MbppPlus.jsonl.gz, 378 tasks): base and plus inputs checked against the canonical solution.</summary>
    MbppPlus,
}

/// <summary>Names, data files and kinds of <see cref="BenchmarkTask"/> values.</summary>
public static class BenchmarkTasks
{
    static readonly (BenchmarkTask Task, string Name, string Folder, string File, int Rows)[] Table =
    [
        (BenchmarkTask.HumanEval, "humaneval", "humaneval", "HumanEval.jsonl.gz", 164),
        (BenchmarkTask.Mbpp, "mbpp", "mbpp", "mbpp.jsonl", 974),
        (BenchmarkTask.MbppSanitized, "mbpp-sanitized", "mbpp", "sanitized-mbpp.json", 427),
        (BenchmarkTask.HumanEvalInfillSingleLine, "humaneval-infill-single", "humaneval-infilling", "HumanEval-SingleLineInfilling.jsonl.gz", 1033),
        (BenchmarkTask.HumanEvalInfillMultiLine, "humaneval-infill-multi", "humaneval-infilling", "HumanEval-MultiLineInfilling.jsonl.gz", 5815),
        // SPEC §11.8: upstream's data.py names these HumanEval-RandomSpan(Light).jsonl.gz, which is not shipped;
        // we read the files that are shipped.
        (BenchmarkTask.HumanEvalInfillRandomSpan, "humaneval-infill-random", "humaneval-infilling", "HumanEval-RandomSpanInfilling.jsonl.gz", 1640),
        (BenchmarkTask.HumanEvalInfillRandomSpanLight, "humaneval-infill-random-light", "humaneval-infilling", "HumanEval-RandomSpanInfillingLight.jsonl.gz", 164),
        // EvalPlus releases (evalplus/humanevalplus_release v0.1.10, evalplus/mbppplus_release v0.2.0), data-scripts/benchmarks.md
        (BenchmarkTask.HumanEvalPlus, "humaneval-plus", "evalplus", "HumanEvalPlus.jsonl.gz", 164),
        (BenchmarkTask.MbppPlus, "mbpp-plus", "evalplus", "MbppPlus.jsonl.gz", 378),
    ];

    /// <summary>Every task, in a fixed order.</summary>
    public static IReadOnlyList<BenchmarkTask> All { get; } = Table.Select(t => t.Task).ToArray();

    /// <summary>The command-line name, e.g. <c>humaneval-infill-single</c>.</summary>
    public static string Name(this BenchmarkTask task) => Row(task).Name;

    /// <summary>The data file's path relative to the benchmarks folder, e.g. <c>humaneval/HumanEval.jsonl.gz</c>.</summary>
    public static string RelativePath(this BenchmarkTask task) => Path.Combine(Row(task).Folder, Row(task).File);

    /// <summary>The data file's name as shipped upstream.</summary>
    public static string FileName(this BenchmarkTask task) => Row(task).File;

    /// <summary>Where the data file is published (the URLs of data-scripts/benchmarks.md), for "file not found" errors.</summary>
    public static string DownloadUrl(this BenchmarkTask task) => task switch
    {
        BenchmarkTask.HumanEvalPlus => "https://github.com/evalplus/humanevalplus_release/releases/download/v0.1.10/HumanEvalPlus.jsonl.gz",
        BenchmarkTask.MbppPlus => "https://github.com/evalplus/mbppplus_release/releases/download/v0.2.0/MbppPlus.jsonl.gz",
        _ when task.IsMbpp() => "https://github.com/google-research/google-research/raw/master/mbpp/" + task.FileName(),
        _ when task.IsInfill() => "https://github.com/openai/human-eval-infilling/raw/master/data/" + task.FileName(),
        _ => "https://github.com/openai/human-eval/raw/master/data/" + task.FileName(),
    };

    /// <summary>The number of rows the shipped file holds (a loader check, not a requirement).</summary>
    public static int ExpectedRows(this BenchmarkTask task) => Row(task).Rows;

    /// <summary>True for the four HumanEval-Infill files (program = prefix + middle + suffix, SPEC §7.3).</summary>
    public static bool IsInfill(this BenchmarkTask task) => task is BenchmarkTask.HumanEvalInfillSingleLine or BenchmarkTask.HumanEvalInfillMultiLine
        or BenchmarkTask.HumanEvalInfillRandomSpan or BenchmarkTask.HumanEvalInfillRandomSpanLight;

    /// <summary>True for HumanEval+ and MBPP+ (EvalPlus's differential tests, <see cref="EvalPlusProgram"/>).</summary>
    public static bool IsEvalPlus(this BenchmarkTask task) => task is BenchmarkTask.HumanEvalPlus or BenchmarkTask.MbppPlus;

    /// <summary>True for MBPP, full or sanitized.</summary>
    public static bool IsMbpp(this BenchmarkTask task) => task is BenchmarkTask.Mbpp or BenchmarkTask.MbppSanitized;

    /// <summary>
    /// The official names each task also goes by (case-insensitive): human-eval-infilling's <c>benchmark_name</c> values
    /// (<c>single-line</c>, …), the same prefixed with <c>humaneval-infill-</c> (e.g. <c>humaneval-infill-single-line</c>),
    /// and the data files' stems (<c>HumanEval-SingleLineInfilling</c>, <c>sanitized-mbpp</c>).
    /// </summary>
    public static IReadOnlyDictionary<string, BenchmarkTask> OfficialNames { get; } = new Dictionary<string, BenchmarkTask>(StringComparer.OrdinalIgnoreCase)
    {
        ["single-line"] = BenchmarkTask.HumanEvalInfillSingleLine, ["humaneval-infill-single-line"] = BenchmarkTask.HumanEvalInfillSingleLine,
        ["HumanEval-SingleLineInfilling"] = BenchmarkTask.HumanEvalInfillSingleLine,
        ["multi-line"] = BenchmarkTask.HumanEvalInfillMultiLine, ["humaneval-infill-multi-line"] = BenchmarkTask.HumanEvalInfillMultiLine,
        ["HumanEval-MultiLineInfilling"] = BenchmarkTask.HumanEvalInfillMultiLine,
        ["random-span"] = BenchmarkTask.HumanEvalInfillRandomSpan, ["humaneval-infill-random-span"] = BenchmarkTask.HumanEvalInfillRandomSpan,
        ["HumanEval-RandomSpanInfilling"] = BenchmarkTask.HumanEvalInfillRandomSpan,
        ["random-span-light"] = BenchmarkTask.HumanEvalInfillRandomSpanLight, ["humaneval-infill-random-span-light"] = BenchmarkTask.HumanEvalInfillRandomSpanLight,
        ["HumanEval-RandomSpanInfillingLight"] = BenchmarkTask.HumanEvalInfillRandomSpanLight,
        ["sanitized-mbpp"] = BenchmarkTask.MbppSanitized,
    };

    /// <summary>Parses a command-line name or one of its <see cref="OfficialNames"/>; the error lists the valid names.</summary>
    public static BenchmarkTask Parse(string name)
    {
        foreach (var row in Table)
            if (string.Equals(row.Name, name, StringComparison.OrdinalIgnoreCase)) return row.Task;
        if (OfficialNames.TryGetValue(name, out var official)) return official;
        throw new ArgumentException($"unknown benchmark '{name}'; expected one of: {string.Join(", ", Table.Select(t => t.Name))} " +
                                    $"(or an official name: {string.Join(", ", OfficialNames.Keys)})");
    }

    static (BenchmarkTask Task, string Name, string Folder, string File, int Rows) Row(BenchmarkTask task) =>
        Array.Find(Table, t => t.Task == task) is { Name: not null } row ? row
            : throw new ArgumentOutOfRangeException(nameof(task), task, "unknown benchmark task");
}

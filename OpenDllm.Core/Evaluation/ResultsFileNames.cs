namespace OpenDllm.Evaluation;

/// <summary>
/// Where <see cref="SampleScorer"/> writes its results, kept apart from openai/human-eval's own output. human-eval's
/// <c>evaluate_functional_correctness SAMPLES</c> writes <c>SAMPLES_results.jsonl</c>; OpenDllm's default is
/// <c>SAMPLES_opendllm.jsonl</c>, and it refuses to write to human-eval's name or into any existing file whose rows are
/// not OpenDllm records, so neither tool ever overwrites or appends to the other's file (issue 16 part 5).
/// </summary>
public static class ResultsFileNames
{
    /// <summary>The suffix of OpenDllm's default results file: <c>SAMPLES_opendllm.jsonl</c>.</summary>
    public const string Suffix = "_opendllm.jsonl";

    /// <summary>The default results file for <paramref name="samplesPath"/>: <c>SAMPLES_opendllm.jsonl</c>.</summary>
    public static string Default(string samplesPath) => samplesPath + Suffix;

    /// <summary>The file human-eval's <c>evaluate_functional_correctness</c> writes for <paramref name="samplesPath"/>.</summary>
    public static string HumanEvalResults(string samplesPath) => samplesPath + "_results.jsonl";

    /// <summary>
    /// Throws <see cref="ArgumentException"/> when <paramref name="resultsPath"/> is human-eval's results name for
    /// <paramref name="samplesPath"/> (<c>SAMPLES_results.jsonl</c>, or its gzip form). No <c>--force</c> lifts this: the
    /// file belongs to the other tool. An existing file of foreign rows under any other name is refused by
    /// <see cref="ResultsLog.ReadPrevious"/>.
    /// </summary>
    public static void EnsureNotHumanEvals(string resultsPath, string samplesPath)
    {
        var full = Path.GetFullPath(resultsPath);
        var theirs = Path.GetFullPath(HumanEvalResults(samplesPath));
        if (string.Equals(full, theirs, StringComparison.Ordinal) || string.Equals(full, theirs + ".gz", StringComparison.Ordinal))
            throw new ArgumentException($"{resultsPath}: this is the file openai/human-eval writes for {Path.GetFileName(samplesPath)}; " +
                                        $"OpenDllm never writes there (choose another --out; the default is {Path.GetFileName(Default(samplesPath))})");
    }
}

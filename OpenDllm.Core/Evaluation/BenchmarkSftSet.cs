using System.Text.Json;
using System.Text.Json.Nodes;
using OpenDllm.Data;
using OpenDllm.IO;

namespace OpenDllm.Evaluation;

/// <summary>One prompt/response example made from a benchmark problem.</summary>
/// <param name="Benchmark">The benchmark's command-line name (<c>humaneval</c>, <c>mbpp</c>).</param>
/// <param name="TaskId">The problem's task_id.</param>
/// <param name="Prompt">What the evaluation prompts with for this problem.</param>
/// <param name="Response">The canonical answer.</param>
/// <param name="HeldOut">True when the problem is in the held-out split.</param>
public sealed record BenchmarkSftExample(string Benchmark, string TaskId, string Prompt, string Response, bool HeldOut)
{
    /// <summary>The example's id in the JSONL (<c>benchmark:task_id</c>), unique across benchmarks; the split hashes it.</summary>
    public string Id => $"{Benchmark}:{TaskId}";
}

/// <summary>
/// A small supervised fine-tuning set built from the shipped HumanEval and MBPP files, whose prompts are exactly what
/// <c>opendllm eval humaneval|mbpp</c> prompts with (SPEC §7.2), so the held-out problems can be scored for pass@1 with
/// the usual sandboxed evaluation (<c>--tasks heldout.jsonl</c>):
/// <list type="bullet">
/// <item>HumanEval: prompt = the signature and docstring (<c>prompt</c>), response = the canonical body
/// (<c>canonical_solution</c>);</item>
/// <item>MBPP (mbpp.jsonl, 974 problems): MBPP has no signature or docstring, so the prompt is the evaluation's
/// (<see cref="PromptFormats.MbppPrompt"/>: statement, three asserts, an opening code fence) and the response is the
/// reference <c>code</c> (line ends normalised to <c>\n</c>) followed by the closing fence, <c>\n```</c>.</item>
/// </list>
/// The held-out split is <see cref="DocumentSplit.IsValidation"/> of <see cref="BenchmarkSftExample.Id"/> with the seed
/// and fraction given: deterministic, independent of file order, and disjoint from the training split. Training on these
/// problems contaminates the benchmarks: after fine-tuning, only scores on the held-out problems mean anything.
/// </summary>
public static class BenchmarkSftSet
{
    /// <summary>The training file <see cref="Write"/> creates.</summary>
    public const string TrainFile = "train.jsonl";

    /// <summary>The held-out file <see cref="Write"/> creates (its rows carry <c>"split": "validation"</c>; the training rows <c>"train"</c>).</summary>
    public const string HeldOutFile = "heldout.jsonl";

    /// <summary>Every HumanEval and MBPP problem as an example, in file order (HumanEval first), each marked held out or not.</summary>
    /// <param name="dataDirectory">The benchmarks folder (<see cref="BenchmarkData.ResolveDirectory"/>).</param>
    /// <param name="heldOutFraction">Fraction of problems held out, in (0, 1).</param>
    /// <param name="seed">Seed of the split.</param>
    public static IReadOnlyList<BenchmarkSftExample> Build(string? dataDirectory, double heldOutFraction, long seed)
    {
        if (heldOutFraction is <= 0 or >= 1 || double.IsNaN(heldOutFraction))
            throw new ArgumentOutOfRangeException(nameof(heldOutFraction), heldOutFraction, $"the held-out fraction {heldOutFraction} must lie in (0, 1)");
        var examples = new List<BenchmarkSftExample>();
        void Add(BenchmarkTask task, string prompt, string response, BenchmarkProblem p)
        {
            var example = new BenchmarkSftExample(task.Name(), p.TaskId, prompt, response, false);
            examples.Add(example with { HeldOut = DocumentSplit.IsValidation(example.Id, seed, heldOutFraction) });
        }
        foreach (var p in BenchmarkLoader.Load(BenchmarkTask.HumanEval, dataDirectory))
            Add(BenchmarkTask.HumanEval, PromptFormats.HumanEvalPrompt(p), p.CanonicalSolution, p);
        foreach (var p in BenchmarkLoader.Load(BenchmarkTask.Mbpp, dataDirectory))
            Add(BenchmarkTask.Mbpp, PromptFormats.MbppPrompt(p), p.CanonicalSolution.Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd() + "\n```", p);
        return examples;
    }

    /// <summary>
    /// Writes <see cref="TrainFile"/> and <see cref="HeldOutFile"/> into <paramref name="outputDirectory"/> (SFT JSONL,
    /// <see cref="SftCorpus"/>: id, benchmark, task_id, prompt, response, and <c>"split"</c>: <c>"train"</c> or, on held-out
    /// rows, <c>"validation"</c>, so preparing the folder reproduces this split whatever the recipe's validation fraction)
    /// and returns the counts. Refuses to overwrite the benchmark files (<see cref="OutputGuard"/>) unless <paramref name="force"/>.
    /// </summary>
    public static (int Train, int HeldOut) Write(IReadOnlyList<BenchmarkSftExample> examples, string outputDirectory, string benchmarksDirectory, bool force = false)
    {
        var trainPath = Path.Combine(outputDirectory, TrainFile);
        var heldOutPath = Path.Combine(outputDirectory, HeldOutFile);
        foreach (var path in new[] { outputDirectory, trainPath, heldOutPath })
            OutputGuard.EnsureSafe(path, "--out", force, benchmarksDirectory);
        Directory.CreateDirectory(outputDirectory);
        string Lines(bool heldOut) => string.Concat(examples.Where(e => e.HeldOut == heldOut).Select(e => Line(e) + "\n"));
        AtomicFile.WriteAllText(trainPath, Lines(false));
        AtomicFile.WriteAllText(heldOutPath, Lines(true));
        return (examples.Count(e => !e.HeldOut), examples.Count(e => e.HeldOut));
    }

    static string Line(BenchmarkSftExample e)
    {
        var row = new JsonObject
        {
            ["id"] = e.Id, ["benchmark"] = e.Benchmark, ["task_id"] = e.TaskId, ["prompt"] = e.Prompt, ["response"] = e.Response,
            ["split"] = e.HeldOut ? DocumentSplit.Validation : DocumentSplit.Train,
        };
        return row.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }
}

using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenDllm.Inference;
using OpenDllm.IO;
using OpenDllm.Sampling;

namespace OpenDllm.Evaluation;

/// <summary>Settings of a SantaCoder-FIM run that can change the score (SPEC §7.4).</summary>
public sealed record SantaCoderFimOptions
{
    /// <summary>A <see cref="SamplerFactory"/> name (aliases stored as the canonical name).</summary>
    public string Sampler { get; init => field = SamplerFactory.Canonical(value); } = "maskgit_plus";
    /// <summary>Sampler settings; <see cref="SamplerSettings.Steps"/> = <see cref="GenerationEvalOptions.StepsPerToken"/> means one step per masked token.</summary>
    public SamplerSettings Settings { get; init; } = new() { Steps = GenerationEvalOptions.StepsPerToken };
    /// <summary>Null: the oracle length (the canonical line's token count); otherwise fixed gap lengths, each scored apart and averaged.</summary>
    public IReadOnlyList<int>? FixedLengths { get; init; }
    /// <summary>The first N rows only (all when null).</summary>
    public int? Limit { get; init; }
    /// <summary>Positions prefix + gap + suffix may use (capped at the model's); longer contexts are cut and counted.</summary>
    public int MaxLength { get; init; } = 2048;
    /// <summary>Allow outputs to overwrite files of the checkpoint or the data.</summary>
    public bool Force { get; init; }
}

/// <summary>Exact match of one length setting: <see cref="Matches"/> of <see cref="Count"/> rows, as a percent.</summary>
public sealed record FimExactMatchResult(string Length, string SamplesFile, int Count, int Matches, int TruncatedContexts = 0)
{
    /// <summary>EM in percent (SPEC §7.4).</summary>
    public double ExactMatch => Count == 0 ? 0 : 100.0 * Matches / Count;
}

/// <summary>
/// SantaCoder-FIM exact match (SPEC §7.4): fills each Python row's gap (prefix = <c>prompt + "\n"</c>, suffix) with a
/// pipeline, at the oracle length or at fixed lengths, writes the samples in the format Open-dLLM's <c>eval_infill.py</c>
/// writes (<c>task_id</c>, <c>completion</c>, <c>ground_truth_middle</c>, one JSON object per line, so
/// <c>compute_em_santa.py</c> can re-score them) and scores them with <see cref="FimExactMatch"/>.
/// </summary>
public static class SantaCoderFimEvaluation
{
    /// <summary>Generates and scores; writes <c>samples_TAG.jsonl</c> per length and <c>results.json</c> into <paramref name="outputDir"/>.</summary>
    public static IReadOnlyList<FimExactMatchResult> Run(DiffusionPipeline pipeline, string checkpoint, IReadOnlyList<SantaCoderFimProblem> problems,
                                                         string dataPath, SantaCoderFimOptions options, string outputDir, Action<string>? log = null)
    {
        OutputGuard.EnsureSafe(outputDir, "output folder", options.Force, checkpoint, dataPath, pipeline.Adapter?.Directory);
        Directory.CreateDirectory(outputDir);
        if (options.Limit is { } limit) problems = problems.Take(limit).ToList();
        var clock = Stopwatch.StartNew();
        int budget = ContextWindow.Budget(pipeline, options.MaxLength);
        var results = new List<FimExactMatchResult>();
        foreach (var fixedLength in options.FixedLengths?.Select(n => (int?)n) ?? [null])
        {
            string tag = fixedLength is { } n ? $"len{n}" : "oracle";
            var samplesPath = Path.Combine(outputDir, $"samples_{tag}.jsonl");
            OutputGuard.EnsureSafe(samplesPath, "output file", options.Force, checkpoint, dataPath);
            var lines = new List<string>();
            int matches = 0, truncated = 0;
            foreach (var problem in problems)
            {
                int length = fixedLength ?? Math.Max(1, pipeline.TokenCount(problem.CanonicalSolution));
                var settings = options.Settings.Steps == GenerationEvalOptions.StepsPerToken ? options.Settings with { Steps = length } : options.Settings;
                var context = ContextWindow.FitInfill(pipeline, problem.Prefix, problem.Suffix, length, budget);
                if (context.Truncated) truncated++;
                var completion = pipeline.Infill(context.Prefix, context.Suffix, length, SamplerFactory.Create(options.Sampler, settings)).Text;
                if (FimExactMatch.IsMatch(completion, problem.CanonicalSolution)) matches++;
                lines.Add(SampleLine(problem, completion));
                if (lines.Count % 50 == 0) log?.Invoke($"  {tag}: {lines.Count}/{problems.Count} rows ({clock.Elapsed.TotalSeconds:F0} s)");
            }
            AtomicFile.WriteAllText(samplesPath, string.Join("\n", lines) + "\n");
            var result = new FimExactMatchResult(tag, samplesPath, problems.Count, matches, truncated);
            results.Add(result);
            log?.Invoke($"  {tag}: exact match {result.ExactMatch:F2}% ({matches}/{problems.Count})");
        }
        WriteResults(pipeline, checkpoint, dataPath, options, budget, results, clock.Elapsed, Path.Combine(outputDir, "results.json"));
        return results;
    }

    /// <summary>One samples-file line: <c>{"task_id": i, "completion": …, "ground_truth_middle": …}</c>.</summary>
    public static string SampleLine(SantaCoderFimProblem problem, string completion) =>
        new JsonObject { ["task_id"] = problem.TaskId, ["completion"] = completion, ["ground_truth_middle"] = problem.CanonicalSolution }
            .ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    /// <summary>
    /// Re-scores a samples file in the format above (the format <c>compute_em_santa.py</c> reads): every line needs a
    /// string <c>completion</c> and <c>ground_truth_middle</c>. A bad line is an <see cref="InvalidDataException"/>
    /// naming the file and line (the official script stops there too).
    /// </summary>
    public static FimExactMatchResult ScoreSamples(string samplesPath)
    {
        if (!File.Exists(samplesPath)) throw new FileNotFoundException($"{samplesPath}: samples file not found", samplesPath);
        int count = 0, matches = 0, line = 0;
        foreach (var text in File.ReadLines(samplesPath))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            try
            {
                using var doc = JsonDocument.Parse(text);
                string Field(string name) => doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty(name, out var v)
                                             && v.ValueKind == JsonValueKind.String ? v.GetString()!
                    : throw new FormatException($"missing or non-string field '{name}'");
                count++;
                if (FimExactMatch.IsMatch(Field("completion"), Field("ground_truth_middle"))) matches++;
            }
            catch (Exception e) when (e is JsonException or FormatException)
            {
                throw new InvalidDataException($"{samplesPath}:{line}: {e.Message}", e);
            }
        }
        return count > 0 ? new FimExactMatchResult("file", samplesPath, count, matches)
            : throw new InvalidDataException($"{samplesPath}: no samples in file");
    }

    static void WriteResults(DiffusionPipeline pipeline, string checkpoint, string dataPath, SantaCoderFimOptions o, int budget,
                             IReadOnlyList<FimExactMatchResult> results, TimeSpan elapsed, string path)
    {
        var s = o.Settings;
        var record = new JsonObject
        {
            ["task"] = "santacoder-fim", ["data"] = Path.GetFullPath(dataPath), ["language"] = "py",
            ["rows"] = results.Count > 0 ? results[0].Count : 0,
            ["checkpoint"] = Path.GetFullPath(checkpoint), ["checkpoint_sha256"] = GenerationEvaluation.CheckpointHash(checkpoint),
            ["adapter"] = pipeline.Adapter?.Directory, ["adapter_sha256"] = pipeline.Adapter?.Sha256,
            ["tokenizer"] = pipeline.Tokenizer.Name, ["mask_id"] = pipeline.Denoiser.MaskId, ["shifted_logits"] = pipeline.Denoiser.ShiftedLogits,
            ["sampler"] = o.Sampler, ["steps"] = s.Steps,
            ["steps_rule"] = s.Steps == GenerationEvalOptions.StepsPerToken ? "one step per token to fill" : "fixed",
            ["temperature"] = s.Temperature, ["top_p"] = s.TopP, ["top_k"] = s.TopK, ["alg_temp"] = s.AlgTemp,
            ["block_length"] = s.BlockLength, ["threshold"] = s.Threshold, ["seed"] = s.Seed,
            ["max_length"] = o.MaxLength, ["context_positions"] = budget,
            ["infill_length"] = o.FixedLengths is null ? "oracle" : string.Join(",", o.FixedLengths),
            ["scoring"] = "line 1 if the completion starts with \"\\n\" or \" \\n\" else line 0; strip(); equal to canonical_solution.strip() (SPEC §7.4)",
            ["elapsed_s"] = elapsed.TotalSeconds,
            ["results"] = new JsonArray(results.Select(r => (JsonNode)new JsonObject
            {
                ["length"] = r.Length, ["samples"] = Path.GetFileName(r.SamplesFile), ["count"] = r.Count, ["exact_matches"] = r.Matches,
                ["exact_match"] = r.ExactMatch, ["truncated_contexts"] = r.TruncatedContexts,
            }).ToArray()),
            ["exact_match_mean"] = results.Count > 0 ? results.Average(r => r.ExactMatch) : null,
        };
        AtomicFile.WriteAllText(path, record.ToJsonString(new JsonSerializerOptions
        {
            WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }));
    }
}

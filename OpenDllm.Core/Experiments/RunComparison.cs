using System.Text.Json.Nodes;
using OpenDllm.Data;
using OpenDllm.Inference;
using OpenDllm.Sampling;
using OpenDllm.Training;
using static TorchSharp.torch;

namespace OpenDllm.Experiments;

/// <summary>What a comparison measures: the NELBO threshold, the held-out infill set and its sampler.</summary>
/// <param name="Baseline">The run the speed-ups are relative to (its name); default the first run.</param>
/// <param name="Threshold">τ in bits per token; default the baseline's final validation bound, so the speed-up reads
/// "reaches what the baseline reaches at the end in 1/k of the steps".</param>
/// <param name="InfillTasks">Held-out single-line infill tasks, at most (one line per validation document) (<see cref="HeldOutInfill"/>, seed 1), the same for every
/// run; 0 skips infill.</param>
/// <param name="Sampler">The sampler that fills them in diffusion runs (as many steps as masks); AR+FIM runs (objective
/// ar_fim) always use the AR sampler with its KV cache on the FIM prompt (<see cref="FimInfill"/>).</param>
/// <param name="FixedLengths">When set, every run also fills the lines at unknown length: AR+FIM until EOS (within
/// <paramref name="MaxMiddleTokens"/>), diffusion at each of these lengths, averaged (the average-fixed-length protocol,
/// SPEC §5.6). Null: oracle length only.</param>
/// <param name="MaxMiddleTokens">The AR+FIM budget at unknown length.</param>
public sealed record ComparisonOptions(string? Baseline = null, double? Threshold = null, int InfillTasks = 64, string Sampler = "maskgit_plus",
                                       IReadOnlyList<int>? FixedLengths = null, int MaxMiddleTokens = 128);

/// <summary>One run of a comparison.</summary>
/// <param name="Curve">The validation bound at each evaluation.</param>
/// <param name="StepsToThreshold">Steps to reach the comparison's τ (<see cref="Convergence.StepsToReach"/>), null if never.</param>
/// <param name="SpeedUp">steps_baseline(τ) / steps_run(τ), null when unknown.</param>
/// <param name="InfillExact">Exact-match rate of the held-out infill tasks (null when skipped).</param>
/// <param name="InfillTokenAccuracy">Share of the middles' tokens the model put back at their place (oracle length).</param>
/// <param name="TokensPerSecond">Mean training throughput the run logged (its cost: alignment adds a teacher forward).</param>
public sealed record ComparedRun(string Name, string Directory, string Objective, long Steps, IReadOnlyList<BoundPoint> Curve,
                                 double? StepsToThreshold, double? SpeedUp, double? InfillExact, double? InfillTokenAccuracy,
                                 double? TokensPerSecond, double? FinalAlignLoss)
{
    /// <summary>The oracle-length infill in full (exact match, token accuracy, generated tokens/s); null when skipped.</summary>
    public InfillScore? OracleInfill { get; init; }

    /// <summary>The unknown-length infill (<see cref="ComparisonOptions.FixedLengths"/>); null when not asked for.</summary>
    public InfillScore? UnknownLengthInfill { get; init; }

    /// <summary>The validation bound this run logs (val_nelbo_bits for diffusion, val_nll_bits for AR).</summary>
    public string Metric { get; init; } = "";

    /// <summary>The bound at the first and the last evaluation.</summary>
    public double FirstBits => Curve[0].Bits;
    public double FinalBits => Curve[^1].Bits;
}

/// <summary>A comparison of runs trained at equal steps and batch on the same data.</summary>
public sealed record Comparison(string Metric, string Baseline, double Threshold, int InfillTasks, string Sampler, IReadOnlyList<ComparedRun> Runs)
{
    /// <summary>The comparison as JSON (what <c>opendllm compare</c> writes to <c>comparison.json</c>).</summary>
    public JsonObject ToJson() => new()
    {
        ["metric"] = Metric, ["baseline"] = Baseline, ["threshold_bits"] = Threshold, ["infill_tasks"] = InfillTasks, ["sampler"] = Sampler,
        ["runs"] = new JsonArray(Runs.Select(r => (JsonNode)new JsonObject
        {
            ["name"] = r.Name, ["dir"] = r.Directory, ["objective"] = r.Objective, ["steps"] = r.Steps,
            ["first_bits"] = r.FirstBits, ["final_bits"] = r.FinalBits,
            ["steps_to_threshold"] = r.StepsToThreshold, ["speedup"] = r.SpeedUp,
            ["infill_exact"] = r.InfillExact, ["infill_token_accuracy"] = r.InfillTokenAccuracy,
            ["tokens_per_s"] = r.TokensPerSecond, ["final_align_loss"] = r.FinalAlignLoss,
            ["metric"] = r.Metric,
            ["infill_oracle"] = Json(r.OracleInfill), ["infill_unknown_length"] = Json(r.UnknownLengthInfill),
            ["curve"] = new JsonArray(r.Curve.Select(p => (JsonNode)new JsonArray(p.Step, p.Bits)).ToArray()),
        }).ToArray()),
    };

    static JsonObject? Json(InfillScore? s) => s is null ? null : new()
    {
        ["protocol"] = s.Protocol, ["sampler"] = s.Sampler, ["exact"] = s.Exact, ["token_accuracy"] = s.TokenAccuracy,
        ["generated_tokens"] = s.GeneratedTokens, ["seconds"] = s.Seconds, ["middles"] = s.Middles,
        ["generated_tokens_per_s"] = s.TokensPerSecond, ["ms_per_middle"] = s.MillisecondsPerMiddle,
        ["tokens_counted"] = "generated tokens only (diffusion: every masked slot; AR: every token produced, EOS included), never prompt tokens",
    };

    /// <summary>
    /// A Markdown table of the infill results, one row per run and length protocol: exact match, token accuracy, generated
    /// tokens/s and milliseconds per middle (README-ready). Empty when infill was skipped.
    /// </summary>
    public string ToInfillMarkdown()
    {
        var rows = Runs.SelectMany(r => new[] { (r, s: r.OracleInfill, length: "oracle"), (r, s: r.UnknownLengthInfill, length: "unknown") })
            .Where(x => x.s is not null).ToList();
        if (rows.Count == 0) return "";
        var ic = System.Globalization.CultureInfo.InvariantCulture;
        var lines = new List<string>
        {
            "| run | objective | length | protocol | sampler | exact match | token acc. | generated tokens/s | ms / middle |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        };
        foreach (var (r, s, length) in rows)
            lines.Add(string.Create(ic, $"| {r.Name} | {r.Objective} | {length} | {s!.Protocol} | {s.Sampler} | {s.Exact * 100:F1} % | {s.TokenAccuracy * 100:F1} % | {s.TokensPerSecond:F1} | {s.MillisecondsPerMiddle:F0} |"));
        return string.Join("\n", lines);
    }

    /// <summary>A Markdown table of the runs (README-ready).</summary>
    public string ToMarkdown()
    {
        static string F(double? v, string format) => v is { } x ? x.ToString(format, System.Globalization.CultureInfo.InvariantCulture) : "—";
        var lines = new List<string>
        {
            $"| run | steps | {Metric} first → final | steps to {Threshold:F3} | speed-up vs {Baseline} | infill EM | infill token acc. | tokens/s |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        };
        foreach (var r in Runs)
            lines.Add($"| {r.Name} | {r.Steps} | {r.FirstBits:F3} → {r.FinalBits:F3} | {F(r.StepsToThreshold, "F0")} | "
                + $"{(r.SpeedUp is { } s ? $"{s:F2}×" : "—")} | {F(r.InfillExact * 100, "F1")}{(r.InfillExact is null ? "" : " %")} | "
                + $"{F(r.InfillTokenAccuracy * 100, "F1")}{(r.InfillTokenAccuracy is null ? "" : " %")} | {F(r.TokensPerSecond, "F0")} |");
        return string.Join("\n", lines);
    }
}

/// <summary>
/// Compares finished training runs the way a convergence claim needs (SPEC §3: "k× faster"): their validation curves
/// from <c>metrics.jsonl</c> (one bound, e.g. <c>val_nelbo_bits</c>), the steps each needs to reach one threshold and the
/// speed-up over a baseline (<see cref="Convergence"/>), and held-out single-line infilling of their last checkpoints on
/// one task set. Every run must have been trained on the same prepared data (the infill tasks come from its validation split).
/// </summary>
public static class RunComparison
{
    /// <summary>Compares the runs in <paramref name="runs"/> (name, <c>train.output_dir</c>).</summary>
    public static Comparison Compare(IReadOnlyList<(string Name, string Directory)> runs, ComparisonOptions? options = null,
                                     Device? device = null, Action<string>? log = null)
    {
        options ??= new ComparisonOptions();
        if (runs.Count == 0) throw new ArgumentException("no runs to compare");
        if (runs.Select(r => r.Name).Distinct().Count() != runs.Count) throw new ArgumentException($"run names must differ: {string.Join(", ", runs.Select(r => r.Name))}");
        if (options.InfillTasks < 0) throw new ArgumentOutOfRangeException(nameof(options.InfillTasks), options.InfillTasks, "must be ≥ 0");
        if (options.FixedLengths is { } fixedLengths && (fixedLengths.Count == 0 || fixedLengths.Any(n => n < 1)))
            throw new ArgumentOutOfRangeException(nameof(options.FixedLengths), string.Join(",", fixedLengths), "fixed lengths must be a non-empty list of lengths ≥ 1");
        if (options.MaxMiddleTokens < 1) throw new ArgumentOutOfRangeException(nameof(options.MaxMiddleTokens), options.MaxMiddleTokens, "must be ≥ 1");
        var loaded = runs.Select(r => Load(r.Name, r.Directory)).ToList();
        // diffusion runs log a NELBO, AR runs an exact NLL: both are bits per token of the same held-out data, the NELBO an
        // upper bound of the diffusion model's NLL, so one threshold reads across them (the comparison names both)
        var metrics = loaded.Select(r => r.Metric).Distinct().ToList();
        var baseline = options.Baseline ?? loaded[0].Name;
        var baseRun = loaded.FirstOrDefault(r => r.Name == baseline)
            ?? throw new ArgumentException($"baseline '{baseline}' is not one of the runs ({string.Join(", ", loaded.Select(r => r.Name))})");
        double threshold = options.Threshold ?? baseRun.Curve[^1].Bits;
        double? baseSteps = Convergence.StepsToReach(baseRun.Curve, threshold);

        var shards = options.InfillTasks > 0 ? SharedData(loaded) : null;
        var compared = new List<ComparedRun>();
        foreach (var r in loaded)
        {
            double? steps = Convergence.StepsToReach(r.Curve, threshold);
            (InfillScore Oracle, InfillScore? Unknown)? infill = null;
            if (shards is not null)
            {
                log?.Invoke($"{r.Name}: infilling {options.InfillTasks} held-out lines with {r.Checkpoint}");
                infill = Infill(r.Checkpoint, r.Objective, shards, options, device);
            }
            compared.Add(new ComparedRun(r.Name, r.Directory, r.Objective, r.Curve[^1].Step, r.Curve, steps, Convergence.SpeedUp(baseSteps, steps),
                infill?.Oracle.Exact, infill?.Oracle.TokenAccuracy, r.TokensPerSecond, r.AlignLoss)
                { OracleInfill = infill?.Oracle, UnknownLengthInfill = infill?.Unknown, Metric = r.Metric });
        }
        // the tasks actually filled: the validation split can hold fewer usable lines than asked for (one per document)
        int filled = compared.Select(c => c.OracleInfill?.Middles).OfType<int>().FirstOrDefault();
        if (shards is not null && filled < options.InfillTasks)
            log?.Invoke($"held-out infill: the validation split gives {filled} lines, fewer than the {options.InfillTasks} asked for");
        return new Comparison(string.Join(" / ", metrics), baseline, threshold, filled, options.Sampler, compared);
    }

    sealed record LoadedRun(string Name, string Directory, string Objective, string Metric, List<BoundPoint> Curve, string Checkpoint,
                            string? Shards, double? TokensPerSecond, double? AlignLoss);

    static LoadedRun Load(string name, string directory)
    {
        var metricsFile = Path.Combine(directory, MetricsLog.FileName);
        if (!File.Exists(metricsFile)) throw new FileNotFoundException($"{metricsFile}: not found; is {directory} a train.output_dir?", metricsFile);
        var checkpoint = CheckpointStore.Latest(directory)
            ?? throw new InvalidDataException($"{directory}: no complete checkpoint; finish (or resume) the run first");
        var recipe = Recipe.Load(Path.Combine(checkpoint, "recipe.json"));
        var records = MetricsLog.Read(metricsFile);
        string? metric = records.SelectMany(o => o.Select(p => p.Key)).FirstOrDefault(k => k.StartsWith("val_", StringComparison.Ordinal) && k.EndsWith("_bits", StringComparison.Ordinal));
        if (metric is null) throw new InvalidDataException($"{metricsFile}: no validation bound (val_*_bits); set train.eval_every");
        var curve = records.Where(o => Number(o, metric) is not null)
            .Select(o => new BoundPoint((long)Number(o, "step")!.Value, Number(o, metric)!.Value)).OrderBy(p => p.Step).ToList();
        var speeds = records.Select(o => Number(o, "tokens_per_s")).OfType<double>().Where(double.IsFinite).ToList();
        var align = records.Select(o => Number(o, "align_loss")).OfType<double>().LastOrDefault(double.NaN);
        return new LoadedRun(name, directory, recipe.Train.Objective, metric, curve, checkpoint, recipe.Data.Shards ?? recipe.Data.PrepareDir,
            speeds.Count > 0 ? speeds.Average() : null, double.IsNaN(align) ? null : align);
    }

    static string SharedData(IReadOnlyList<LoadedRun> runs)
    {
        var folders = runs.Select(r => r.Shards is null ? null : Path.GetFullPath(r.Shards)).Distinct().ToList();
        if (folders.Count != 1 || folders[0] is null)
            throw new ArgumentException("held-out infill needs every run to name the same data.prepare_dir (or data.shards): "
                + string.Join(", ", runs.Select(r => $"{r.Name}: {r.Shards ?? "(none)"}")) + "; or set the infill task count to 0");
        return folders[0]!;
    }

    /// <summary>Held-out single-line infilling at oracle length and, when asked, at unknown length (<see cref="InfillScore.Measure"/>).</summary>
    static (InfillScore Oracle, InfillScore? Unknown) Infill(string checkpoint, string objective, string shards, ComparisonOptions options, Device? device)
    {
        var pipeline = DiffusionPipeline.Load(checkpoint, device);
        try
        {
            using var set = TokenShardSet.Open(shards, verify: false);
            var tasks = HeldOutInfill.Tasks(set.Validation, pipeline.Tokenizer, options.InfillTasks, seed: 1);
            if (tasks.Count == 0) throw new InvalidDataException($"{shards}: the validation split has no line to fill in");
            var oracle = InfillScore.Measure(pipeline, objective, tasks, options.Sampler, null, options.MaxMiddleTokens);
            var unknown = options.FixedLengths is { } lengths
                ? InfillScore.Measure(pipeline, objective, tasks, options.Sampler, lengths, options.MaxMiddleTokens) : null;
            return (oracle, unknown);
        }
        finally { pipeline.Model.Dispose(); }
    }

    static double? Number(JsonObject o, string key) =>
        o.TryGetPropertyValue(key, out var v) && v is JsonValue j && j.TryGetValue<double>(out var d) ? d : null;
}

using System.Globalization;
using System.Text.Json.Nodes;
using OpenDllm.Sampling;

namespace OpenDllm.Evaluation;

/// <summary>
/// What happens to the generated tokens after the first end-of-sequence token (SPEC §7.2–7.3).
/// <list type="bullet">
/// <item><see cref="Cut"/>: the text ends at the first EOS (Dream, Fast-dLLM, LLaDA: the output is cut there).</item>
/// <item><see cref="Strip"/>: every special token (EOS, pad, mask, BOS, FIM markers) is removed and the text around
/// them is kept, as Hugging Face's <c>decode(…, skip_special_tokens=True)</c> that Open-dLLM's eval scripts use.</item>
/// </list>
/// </summary>
public enum EosRule { Cut, Strip }

/// <summary>
/// Every setting of <c>opendllm eval</c> that can change a score, each null when not given (issue 16 part 3): the
/// sampler (algorithm) and its numeric knobs, the seed, lengths, samples per task, the EOS rule and the stop strings.
/// A preset (<see cref="EvalPresets"/>) is one of these; the command line is another; <see cref="Over"/> lays one over
/// the other. <see cref="Unused"/> names the knobs a sampler would ignore, which the CLI refuses.
/// </summary>
public sealed record EvalKnobs
{
    /// <summary>A <see cref="SamplerFactory"/> name (<c>origin</c>, <c>maskgit_plus</c>, <c>topk_margin</c>, <c>entropy</c>, <c>p2</c>, <c>fast-dllm-dual</c>, …).</summary>
    public string? Sampler { get; init; }
    public int? Steps { get; init; }
    public double? Temperature { get; init; }
    public double? TopP { get; init; }
    public int? TopK { get; init; }
    public double? AlgTemp { get; init; }
    public int? BlockLength { get; init; }
    public double? Threshold { get; init; }
    public double? Factor { get; init; }
    /// <summary>fast-dllm-dkv: a full forward every this many steps (unset: <see cref="FastDllmOptions.DefaultRefreshInterval"/>).</summary>
    public int? RefreshInterval { get; init; }
    public long? Seed { get; init; }
    /// <summary>Completion length (HumanEval/MBPP).</summary>
    public int? MaxNewTokens { get; init; }
    /// <summary>Positions context + generated tokens may use.</summary>
    public int? MaxLength { get; init; }
    /// <summary>Samples per problem (n of pass@k).</summary>
    public int? SamplesPerTask { get; init; }
    /// <summary>pass@k list, e.g. "1,10".</summary>
    public string? K { get; init; }
    /// <summary>Infill length protocol: "oracle" or fixed lengths "4,8,16".</summary>
    public string? Lengths { get; init; }
    public EosRule? Eos { get; init; }
    /// <summary>Completion: cut the continuation at the benchmark's stop strings before sanitizing (Open-dLLM) or not
    /// (Fast-dLLM/Dream's <c>escape_until=true</c>).</summary>
    public bool? StopStrings { get; init; }

    /// <summary>These knobs with every knob <paramref name="top"/> sets replacing this one's.</summary>
    public EvalKnobs Over(EvalKnobs top) => new()
    {
        Sampler = top.Sampler ?? Sampler, Steps = top.Steps ?? Steps, Temperature = top.Temperature ?? Temperature, TopP = top.TopP ?? TopP,
        TopK = top.TopK ?? TopK, AlgTemp = top.AlgTemp ?? AlgTemp, BlockLength = top.BlockLength ?? BlockLength,
        Threshold = top.Threshold ?? Threshold, Factor = top.Factor ?? Factor, RefreshInterval = top.RefreshInterval ?? RefreshInterval, Seed = top.Seed ?? Seed,
        MaxNewTokens = top.MaxNewTokens ?? MaxNewTokens, MaxLength = top.MaxLength ?? MaxLength, SamplesPerTask = top.SamplesPerTask ?? SamplesPerTask,
        K = top.K ?? K, Lengths = top.Lengths ?? Lengths, Eos = top.Eos ?? Eos, StopStrings = top.StopStrings ?? StopStrings,
    };

    /// <summary>The knobs that are set, by their command-line flag, with their value as text (for listings and records).</summary>
    public IReadOnlyList<(string Flag, string Value)> Given()
    {
        var list = new List<(string, string)>();
        void Add(string flag, object? value)
        {
            if (value is not null) list.Add((flag, Text(value)));
        }
        Add("--sampler", Sampler); Add("--steps", Steps); Add("--temperature", Temperature); Add("--top-p", TopP); Add("--top-k", TopK);
        Add("--alg-temp", AlgTemp); Add("--block-length", BlockLength); Add("--threshold", Threshold); Add("--factor", Factor);
        Add("--refresh-interval", RefreshInterval); Add("--seed", Seed);
        Add("--max-new-tokens", MaxNewTokens); Add("--max-length", MaxLength); Add("--samples", SamplesPerTask); Add("--k", K);
        Add("--lengths", Lengths); Add("--eos", Eos?.ToString().ToLowerInvariant()); Add("--stop-strings", StopStrings is { } s ? (s ? "on" : "off") : null);
        return list;
    }

    /// <summary>The set knobs as a JSON object keyed by flag without dashes (<c>top-p</c>, …).</summary>
    public JsonObject ToJson()
    {
        var o = new JsonObject();
        foreach (var (flag, value) in Given()) o[flag[2..]] = value;
        return o;
    }

    /// <summary>
    /// The set sampler knobs that <paramref name="sampler"/> would ignore, by flag: <c>--steps</c> for fast-dllm and ar
    /// (fast-dllm's steps follow from its threshold per block; ar makes one step per token), <c>--top-p</c>/<c>--top-k</c>
    /// for llada and block, <c>--alg-temp</c> outside maskgit_plus/topk_margin/entropy, <c>--block-length</c> outside
    /// fast-dllm and block, <c>--threshold</c>/<c>--factor</c> outside fast-dllm, <c>--refresh-interval</c> outside fast-dllm-dkv.
    /// </summary>
    public IReadOnlyList<string> Unused(string sampler)
    {
        sampler = SamplerFactory.Canonical(sampler);
        bool fast = sampler.StartsWith("fast-dllm", StringComparison.Ordinal);
        bool block = sampler is "block" or "block-nocache";
        bool ar = sampler is "ar" or "ar-nocache";
        bool llada = sampler is "llada" or "llada-random";
        var unused = new List<string>();
        if (Steps is not null && (fast || ar)) unused.Add("--steps");
        if (TopP is not null && (llada || block)) unused.Add("--top-p");
        if (TopK is not null && (llada || block)) unused.Add("--top-k");
        if (AlgTemp is not null && sampler is not ("maskgit_plus" or "topk_margin" or "entropy")) unused.Add("--alg-temp");
        if (BlockLength is not null && !(fast || block)) unused.Add("--block-length");
        if (Threshold is not null && !fast) unused.Add("--threshold");
        if (Factor is not null && !fast) unused.Add("--factor");
        if (RefreshInterval is not null && sampler != "fast-dllm-dkv") unused.Add("--refresh-interval");
        return unused;
    }

    static string Text(object value) => value switch
    {
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}

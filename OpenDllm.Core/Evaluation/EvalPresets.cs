namespace OpenDllm.Evaluation;

/// <summary>
/// A named set of evaluation settings reproducing an anchor's published run (<c>opendllm eval … --preset NAME</c>).
/// </summary>
/// <param name="Name">The name on the command line.</param>
/// <param name="Tasks">The benchmarks it was published for, by <see cref="BenchmarkTasks.Name"/>; other tasks are refused.</param>
/// <param name="Knobs">The settings; explicit flags override them.</param>
/// <param name="Source">Where upstream sets them (repository:path), read at the commits noted in SPEC §7.2–7.3.</param>
/// <param name="Notes">What upstream does that the preset deliberately does not copy, or cannot.</param>
public sealed record EvalPreset(string Name, IReadOnlyList<string> Tasks, EvalKnobs Knobs, string Source, string Notes);

/// <summary>
/// The anchors' evaluation settings by name (issue 16 part 3; SPEC §7.2–7.3), so "can't reproduce 20.8" (Open-dLLM#17)
/// has one answer: the run names its preset and <c>results.json</c> records the preset and every resolved knob.
/// </summary>
public static class EvalPresets
{
    /// <summary>Open-dLLM <c>eval/eval_completion/run_eval.sh</c>: HumanEval(+)/MBPP(+) for Open-dCoder.</summary>
    public static EvalPreset OpenDllmCompletion { get; } = new(
        "open-dllm-completion", ["humaneval", "mbpp", "mbpp-sanitized", "humaneval-plus", "mbpp-plus"],
        new EvalKnobs
        {
            Sampler = "p2", MaxNewTokens = 128, Steps = 128, Temperature = 0.8, TopK = 200, MaxLength = 2048,
            SamplesPerTask = 10, K = "1,10", Eos = EosRule.Strip, StopStrings = true,
        },
        "pengzhangzhi/Open-dLLM:eval/eval_completion/run_eval.sh + eval.py (custom_coder) + lm-eval humaneval(_plus)/mbpp(_plus) task yaml",
        "top_p=0.95 in run_eval.sh is swallowed by the custom_coder wrapper's **kwargs, so the effective filter is its top_k=200 " +
        "(SPEC §7.2, §11.4); the preset sets top_k=200 and no top_p. Its alg_temp=0.5 is not read by p2. Upstream adds a BOS " +
        "token (add_bos_token=true) that OpenDllm's tokenizers do not have, runs batch 10 with left padding on 4 GPUs (OpenDllm " +
        "decodes batch 1 by default, left-padded batches with --batch-size N), and takes the decoded text with skip_special_tokens (the strip EOS rule).");

    /// <summary>Open-dLLM <c>eval/eval_infill/run_eval.sh</c>: HumanEval-Infill single-line, oracle middle length.</summary>
    public static EvalPreset OpenDllmInfill { get; } = new(
        "open-dllm-infill", ["humaneval-infill-single"],
        new EvalKnobs
        {
            Sampler = "p2", Steps = 64, Temperature = 0.6, TopP = 0.95, MaxLength = 2048, SamplesPerTask = 1, K = "1",
            Lengths = "oracle", Eos = EosRule.Strip,
        },
        "pengzhangzhi/Open-dLLM:eval/eval_infill/run_eval.sh + eval_infill.py",
        "run_eval.sh sets temperature 0.6, steps 64, alg p2; top_p 0.95 is eval_infill.py's default and reaches the sampler; " +
        "alg_temp 0.5 (default) is not read by p2; the middle length is the oracle token count of the canonical middle; the " +
        "middle is decoded with skip_special_tokens (the strip EOS rule). Upstream batches 32 per GPU with right padding.");

    /// <summary>Fast-dLLM <c>llada/eval_humaneval.sh</c> and <c>dream/eval_humaneval.sh</c>: the "dual cache + parallel" run.</summary>
    public static EvalPreset FastDllmHumanEval { get; } = new(
        "fast-dllm-humaneval", ["humaneval"],
        new EvalKnobs
        {
            Sampler = "fast-dllm-dual", MaxNewTokens = 256, BlockLength = 32, Threshold = 0.9, Temperature = 0.0, MaxLength = 2048,
            SamplesPerTask = 1, K = "1", Eos = EosRule.Cut, StopStrings = false,
        },
        "NVlabs/Fast-dLLM:llada/eval_humaneval.sh, dream/eval_humaneval.sh (dual cache + parallel), postprocess_code.py",
        "gen_length 256, block_length 32, threshold 0.9, use_cache + dual_cache, greedy; escape_until=true (no stop strings), " +
        "the output cut at the first EOS, then postprocess_code.py's sanitize (OpenDllm always sanitizes HumanEval). " +
        "Upstream's nominal steps = 256/32 = 8 only count blocks; the threshold decides the real steps, so the preset sets none.");

    /// <summary>Every preset, in listing order.</summary>
    public static IReadOnlyList<EvalPreset> All { get; } = [OpenDllmCompletion, OpenDllmInfill, FastDllmHumanEval];

    /// <summary>The preset named <paramref name="name"/>; the error lists the valid names.</summary>
    public static EvalPreset Find(string name) =>
        All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"--preset: unknown preset '{name}'; valid presets: {string.Join(", ", All.Select(p => p.Name))} " +
                                       "(`opendllm eval presets` lists their settings)");

    /// <summary>
    /// The settings of a run: <paramref name="preset"/>'s knobs (when given) with <paramref name="flags"/> laid over them.
    /// Throws <see cref="ArgumentException"/> (one line) when the preset was not made for <paramref name="task"/>, or when
    /// the resolved sampler would ignore a knob that the flags or the preset set, naming where the knob came from.
    /// </summary>
    public static EvalKnobs Resolve(EvalPreset? preset, EvalKnobs flags, BenchmarkTask task)
    {
        if (preset is not null && !preset.Tasks.Contains(task.Name()))
            throw new ArgumentException($"--preset {preset.Name} reproduces {string.Join(", ", preset.Tasks)}, not {task.Name()}");
        var resolved = (preset?.Knobs ?? new EvalKnobs()).Over(flags);
        if (resolved.Sampler is { } sampler)
            foreach (var flag in resolved.Unused(sampler))
            {
                var fromFlags = flags.Given().Any(g => g.Flag == flag);
                var value = resolved.Given().First(g => g.Flag == flag).Value;
                throw new ArgumentException(fromFlags
                    ? $"{flag} {value} is not used by the {SamplerKindNote(sampler, preset, flags)} sampler; leave it unset"
                    : $"{flag} {value} from preset {preset!.Name} is not used by the {sampler} sampler given with --sampler; " +
                      $"drop --sampler or the preset");
            }
        if (task.IsInfill() && flags.StopStrings is not null)
            throw new ArgumentException("--stop-strings applies to completion tasks (humaneval, mbpp), not to infilling");
        if (task.IsInfill() && flags.MaxNewTokens is not null)
            throw new ArgumentException("--max-new-tokens applies to completion tasks; infill lengths are set with --lengths");
        if (!task.IsInfill() && flags.Lengths is not null)
            throw new ArgumentException("--lengths applies to humaneval-infill; completion length is --max-new-tokens");
        return resolved;
    }

    /// <summary>The flags that replaced a value of <paramref name="preset"/> (empty without one).</summary>
    public static IReadOnlyList<string> Overrides(EvalPreset? preset, EvalKnobs flags)
    {
        if (preset is null) return [];
        var presetFlags = preset.Knobs.Given().Select(g => g.Flag).ToHashSet(StringComparer.Ordinal);
        return flags.Given().Where(g => presetFlags.Contains(g.Flag)).Select(g => $"{g.Flag} {g.Value}").ToList();
    }

    static string SamplerKindNote(string sampler, EvalPreset? preset, EvalKnobs flags) =>
        flags.Sampler is null && preset?.Knobs.Sampler is not null ? $"{sampler} (preset {preset.Name})" : sampler;
}

using System.CommandLine;
using System.Globalization;
using OpenDllm.Evaluation;
using OpenDllm.Sampling;

namespace OpenDllm.Cli.Commands;

/// <summary>
/// The options of <c>opendllm eval humaneval|mbpp|mbpp-sanitized|humaneval-plus|mbpp-plus|humaneval-infill</c> that can change a score
/// (<see cref="EvalKnobs"/>), plus <c>--preset NAME</c> (<see cref="EvalPresets"/>). Every option is unset unless given, so
/// a preset's value is replaced only by a flag the user typed; the defaults of a run without a preset are
/// <see cref="Defaults"/>. A knob the resolved sampler would ignore is refused.
/// </summary>
public sealed class EvalKnobOptions(bool infill)
{
    /// <summary>The values a run without a preset uses for knobs nobody set (steps: one per token to fill).</summary>
    public static EvalKnobs Defaults { get; } = new()
    {
        Sampler = "maskgit_plus", Temperature = 0.0, Seed = 0, SamplesPerTask = 1, K = "1", MaxNewTokens = 128, MaxLength = 2048,
        Lengths = "oracle", Eos = EosRule.Cut, StopStrings = true,
    };

    readonly Option<string?> _preset = new("--preset")
    {
        Description = $"Named settings of an anchor's published run: {string.Join(", ", EvalPresets.All.Select(p => p.Name))}; " +
                      "`list` prints them. Explicit flags override the preset; results.json records both.",
    };
    readonly Option<string?> _sampler = new("--sampler", "--alg") { Description = $"Sampler (algorithm), default maskgit_plus: {string.Join(", ", SamplerFactory.Names)}." };
    readonly Option<int?> _steps = new("--steps") { Description = "Denoising steps (default: one per token to fill: the new tokens, or each middle's length)." };
    readonly Option<double?> _temperature = new("--temperature") { Description = "Sampling temperature; 0 = greedy (default)." };
    readonly Option<double?> _topP = new("--top-p") { Description = "Nucleus filtering (honoured, unlike Open-dLLM's eval wrapper, SPEC §11.4)." };
    readonly Option<int?> _topK = new("--top-k") { Description = "Top-k filtering." };
    readonly Option<double?> _algTemp = new("--alg-temp") { Description = "Position-sampling temperature of maskgit_plus, topk_margin and entropy (0 = top-k positions, default)." };
    readonly Option<int?> _blockLength = new("--block-length") { Description = "Block length of the fast-dllm and block samplers (default 32)." };
    readonly Option<double?> _threshold = new("--threshold") { Description = "Fast-dLLM confidence threshold (default 0.9)." };
    readonly Option<double?> _factor = new("--factor") { Description = "Fast-dLLM factor rule f (replaces the threshold rule when given)." };
    readonly Option<int?> _refreshInterval = new("--refresh-interval") { Description = "fast-dllm-dkv: a full forward every this many steps (default 8)." };
    readonly Option<long?> _seed = new("--seed") { Description = "Sampling seed (sample i uses seed + i; default 0)." };
    readonly Option<int?> _samples = new("--samples") { Description = "Samples per problem (n; default 1)." };
    readonly Option<string?> _k = new("--k") { Description = "pass@k to report, comma-separated (default 1)." };
    readonly Option<int?> _maxNewTokens = new("--max-new-tokens") { Description = "Completion length (default 128)." };
    readonly Option<int?> _maxLength = new("--max-length")
    {
        Description = "Positions context + generated tokens may use (capped at the model's; default 2048); longer contexts are cut and counted.",
    };
    readonly Option<string?> _lengths = new("--lengths")
    {
        Description = "Infill length protocol: oracle (default); fixed lengths averaged, e.g. 4,8,16,32,64; or variable[:N,…] (DreamOn expand/delete "
                      + "from N initial masks, default 4; needs a checkpoint trained with train.objective: dreamon).",
    };
    readonly Option<string?> _eos = new("--eos")
    {
        Description = "After the first EOS: cut (default; Dream, Fast-dLLM) or strip (drop special tokens, keep the rest; Open-dLLM's skip_special_tokens).",
    };
    readonly Option<string?> _stopStrings = new("--stop-strings") { Description = "Completion: on (default; Open-dLLM) cuts at the benchmark's stop strings; off (Fast-dLLM's escape_until)." };

    /// <summary>Adds every option to <paramref name="command"/> (the completion-only and infill-only ones by kind).</summary>
    public void AddTo(Command command)
    {
        _eos.AcceptOnlyFromAmong("cut", "strip");
        _stopStrings.AcceptOnlyFromAmong("on", "off");
        foreach (var o in new Option[] { _preset, _sampler, _steps, _temperature, _topP, _topK, _algTemp, _blockLength, _threshold, _factor, _refreshInterval, _seed, _samples, _k, _maxLength, _eos })
            command.Add(o);
        if (infill) command.Add(_lengths);
        else { command.Add(_maxNewTokens); command.Add(_stopStrings); }
    }

    /// <summary>True for <c>--preset list</c>.</summary>
    public bool ListRequested(ParseResult p) => string.Equals(p.GetValue(_preset), "list", StringComparison.OrdinalIgnoreCase);

    /// <summary>The knobs the user typed.</summary>
    public EvalKnobs Flags(ParseResult p) => new()
    {
        Sampler = p.GetValue(_sampler), Steps = p.GetValue(_steps), Temperature = p.GetValue(_temperature), TopP = p.GetValue(_topP),
        TopK = p.GetValue(_topK), AlgTemp = p.GetValue(_algTemp), BlockLength = p.GetValue(_blockLength), Threshold = p.GetValue(_threshold),
        Factor = p.GetValue(_factor), RefreshInterval = p.GetValue(_refreshInterval), Seed = p.GetValue(_seed), SamplesPerTask = p.GetValue(_samples), K = p.GetValue(_k),
        MaxNewTokens = infill ? null : p.GetValue(_maxNewTokens), MaxLength = p.GetValue(_maxLength), Lengths = infill ? p.GetValue(_lengths) : null,
        Eos = p.GetValue(_eos) switch { null => null, "strip" => EosRule.Strip, _ => EosRule.Cut },
        StopStrings = infill ? null : p.GetValue(_stopStrings) switch { null => null, "off" => false, _ => true },
    };

    /// <summary>The preset (if any) and the resolved knobs: defaults, then the preset, then the flags.</summary>
    public (EvalKnobs Knobs, EvalPreset? Preset) Resolve(ParseResult p, BenchmarkTask task)
    {
        var preset = p.GetValue(_preset) is { } name ? EvalPresets.Find(name) : null;
        var flags = Flags(p);
        var chosen = EvalPresets.Resolve(preset, flags, task);   // refuses knobs the chosen sampler ignores
        return (Defaults.Over(chosen), preset);
    }

    /// <summary>Fills the generation settings of <paramref name="options"/> from resolved <paramref name="k"/>.</summary>
    public static GenerationEvalOptions Apply(EvalKnobs k, EvalPreset? preset, EvalKnobs flags, GenerationEvalOptions options)
    {
        bool infill = options.Task.IsInfill();
        int maxNew = k.MaxNewTokens!.Value;
        if (!infill && maxNew <= 0) throw new ArgumentException($"--max-new-tokens {maxNew}: must be at least 1");
        if (k.MaxLength!.Value <= 0) throw new ArgumentException($"--max-length {k.MaxLength}: must be at least 1");
        if (k.SamplesPerTask!.Value <= 0) throw new ArgumentException($"--samples {k.SamplesPerTask}: must be at least 1");
        if (k.Steps is { } steps && steps <= 0) throw new ArgumentException($"--steps {steps}: must be at least 1");
        if (k.BlockLength is { } block && block <= 0) throw new ArgumentException($"--block-length {block}: must be at least 1");
        string lengthSpec = k.Lengths ?? "oracle";
        bool variable = infill && (lengthSpec == "variable" || lengthSpec.StartsWith("variable:", StringComparison.Ordinal));
        if (variable) lengthSpec = lengthSpec == "variable" ? "4" : lengthSpec["variable:".Length..];
        IReadOnlyList<int>? lengths = infill && lengthSpec != "oracle"
            ? lengthSpec.Split(',').Select(s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n
                : throw new ArgumentException($"--lengths: '{s}' is not a positive integer (or use oracle, or variable[:N,…])")).ToList()
            : null;
        var settings = new SamplerSettings
        {
            Steps = k.Steps ?? (infill ? GenerationEvalOptions.StepsPerToken : maxNew), Temperature = k.Temperature!.Value, TopP = k.TopP,
            TopK = k.TopK, AlgTemp = k.AlgTemp ?? 0, BlockLength = k.BlockLength ?? new SamplerSettings().BlockLength,
            Threshold = k.Threshold ?? new SamplerSettings().Threshold, Factor = k.Factor, RefreshInterval = k.RefreshInterval, Seed = k.Seed!.Value,
        };
        // NaN, ±∞, out-of-range values and knobs this sampler ignores: one line naming the option, before any model work
        SamplerFactory.Create(k.Sampler!, settings with { Steps = Math.Max(1, settings.Steps) });
        return options with
        {
            Sampler = k.Sampler!, Settings = settings, MaxNewTokens = maxNew, MaxLength = k.MaxLength.Value,
            FixedLengths = variable ? null : lengths, VariableLengths = variable ? lengths : null,
            SamplesPerTask = k.SamplesPerTask.Value, K = EvalCommand.ParseK(k.K!), Eos = k.Eos!.Value, StopStrings = k.StopStrings!.Value,
            Preset = preset?.Name, PresetOverrides = EvalPresets.Overrides(preset, flags),
        };
    }
}

namespace OpenDllm.Sampling;

/// <summary>The knobs of every sampler in one record, for command lines, recipes and notebooks.</summary>
public sealed record SamplerSettings
{
    public int Steps { get; init; } = 64;
    public double Temperature { get; init; }
    public double? TopP { get; init; }
    public int? TopK { get; init; }
    public double AlgTemp { get; init; }
    public int BlockLength { get; init; } = 32;
    public double Threshold { get; init; } = 0.9;
    public double? Factor { get; init; }
    public long Seed { get; init; }
    public bool RecordTrajectory { get; init; }
    /// <summary>End-of-sequence id: AR and block samplers stop a row after it.</summary>
    public long? EosId { get; init; }

    /// <summary>Range checks of every knob (<see cref="SamplerOptionChecks"/>): one-line <see cref="ArgumentException"/>
    /// naming the first bad option and its value. <see cref="SamplerFactory.Create"/> also checks what the chosen sampler uses.</summary>
    public SamplerSettings Validate()
    {
        SamplerOptionChecks.Positive("steps", Steps);
        SamplerOptionChecks.Positive("block_length", BlockLength);
        return ValidateValues();
    }

    /// <summary>The checks of the real-valued knobs (temperature, top_p, top_k, alg_temp, threshold, factor).</summary>
    internal SamplerSettings ValidateValues()
    {
        SamplerOptionChecks.Temperature(Temperature);
        SamplerOptionChecks.TopP(TopP);
        SamplerOptionChecks.TopK(TopK);
        SamplerOptionChecks.AlgTemp(AlgTemp);
        SamplerOptionChecks.Threshold(Threshold);
        SamplerOptionChecks.Factor(Factor);
        return this;
    }
}

/// <summary>Builds a sampler from its name (SPEC §5), so a command line or notebook can swap samplers by a string.</summary>
public static class SamplerFactory
{
    /// <summary>The names <see cref="Create"/> accepts.</summary>
    public static readonly IReadOnlyList<string> Names =
    [
        "maskgit_plus", "origin", "topk_margin", "entropy", "p2", "fast-dllm", "fast-dllm-prefix", "fast-dllm-nocache", "llada", "block", "block-nocache", "ar", "ar-nocache",
    ];

    /// <summary>
    /// The sampler <paramref name="name"/> with <paramref name="settings"/>. A knob the sampler would ignore is refused
    /// when it is set away from its "off" value (top_p / top_k for llada and block, alg_temp outside maskgit_plus,
    /// topk_margin and entropy, factor outside fast-dllm), so no setting silently leaves the numbers unchanged.
    /// </summary>
    public static ISampler Create(string name, SamplerSettings? settings = null)
    {
        var s = settings ?? new SamplerSettings();
        if (!Names.Contains(name)) throw new ArgumentException($"unknown sampler '{name}'; valid samplers: {string.Join(", ", Names)}");
        RejectUnused(name, s.ValidateValues());
        MaskedDiffusionSampler Masked(UnmaskingAlgorithm algorithm) => new(new MaskedDiffusionOptions
        {
            Algorithm = algorithm, Steps = s.Steps, Temperature = s.Temperature, TopP = s.TopP, TopK = s.TopK,
            AlgTemp = s.AlgTemp, Seed = s.Seed, RecordTrajectory = s.RecordTrajectory,
        });
        FastDllmSampler Fast(FastDllmCache cache) => new(new FastDllmOptions
        {
            BlockLength = s.BlockLength, Threshold = s.Threshold, Factor = s.Factor, Cache = cache, Temperature = s.Temperature,
            TopP = s.TopP, TopK = s.TopK, Seed = s.Seed, RecordTrajectory = s.RecordTrajectory,
        });
        AutoregressiveSampler Ar(bool cache) => new(new AutoregressiveOptions
        {
            Temperature = s.Temperature, TopP = s.TopP, TopK = s.TopK, UseCache = cache, Seed = s.Seed, RecordTrajectory = s.RecordTrajectory,
            EosId = s.EosId,
        });
        BlockDiffusionSampler Block(bool cache) => new(new BlockDiffusionOptions
        {
            BlockSize = s.BlockLength, Steps = s.Steps, Temperature = s.Temperature, UseCache = cache, Seed = s.Seed,
            RecordTrajectory = s.RecordTrajectory, EosId = s.EosId,
        });
        return name switch
        {
            "maskgit_plus" => Masked(UnmaskingAlgorithm.MaskGitPlus),
            "origin" => Masked(UnmaskingAlgorithm.Origin),
            "topk_margin" => Masked(UnmaskingAlgorithm.TopKMargin),
            "entropy" => Masked(UnmaskingAlgorithm.Entropy),
            "p2" => Masked(UnmaskingAlgorithm.P2),
            "fast-dllm" => Fast(FastDllmCache.Dual),
            "fast-dllm-prefix" => Fast(FastDllmCache.Prefix),
            "fast-dllm-nocache" => Fast(FastDllmCache.None),
            // one block (LLaDA's default, block = generation length): any length works; semi-AR blocks need LladaSampler directly
            "llada" => new LladaSampler(new LladaOptions
            {
                Steps = s.Steps, Temperature = s.Temperature, Seed = s.Seed, RecordTrajectory = s.RecordTrajectory,
            }),
            "block" => Block(cache: true),
            "block-nocache" => Block(cache: false),
            "ar" => Ar(cache: true),
            "ar-nocache" => Ar(cache: false),
            _ => throw new ArgumentException($"unknown sampler '{name}'; valid samplers: {string.Join(", ", Names)}"),
        };
    }

    static void RejectUnused(string name, SamplerSettings s)
    {
        bool confident = name is "maskgit_plus" or "topk_margin" or "entropy";
        bool filters = !(name is "llada" or "block" or "block-nocache");
        void Refuse(string option, string value, string users) =>
            throw new ArgumentException($"{option} = {value} is not used by the {name} sampler (only by {users}); leave it unset");
        if (!filters && s.TopP is { } p) Refuse("top_p", SamplerOptionChecks.Show(p), "the masked-diffusion, fast-dllm and ar samplers");
        if (!filters && s.TopK is { } k) Refuse("top_k", k.ToString(System.Globalization.CultureInfo.InvariantCulture), "the masked-diffusion, fast-dllm and ar samplers");
        if (!confident && s.AlgTemp != 0) Refuse("alg_temp", SamplerOptionChecks.Show(s.AlgTemp), "maskgit_plus, topk_margin and entropy");
        if (!name.StartsWith("fast-dllm", StringComparison.Ordinal) && s.Factor is { } f) Refuse("factor", SamplerOptionChecks.Show(f), "the fast-dllm samplers");
    }
}

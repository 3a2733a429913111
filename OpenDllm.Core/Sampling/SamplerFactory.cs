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
    /// <summary>fast-dllm-dkv only: a full forward every this many steps (null = <see cref="FastDllmOptions.DefaultRefreshInterval"/>).</summary>
    public int? RefreshInterval { get; init; }
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
        if (RefreshInterval is { } r) SamplerOptionChecks.Positive("refresh_interval", r);
        return this;
    }
}

/// <summary>
/// Builds a sampler from its name (SPEC §5), so a command line or notebook can swap samplers by a string. The names are
/// the one sampler vocabulary of OpenDllm: <see cref="ISampler.Name"/> of the sampler built from a name is that name, so
/// command lines, results files, bench JSON and logs all say the same thing.
/// <list type="bullet">
/// <item>a name is the algorithm plus the variant that changes which computation runs: the KV cache (<c>-nocache</c>:
/// a full forward every step; <c>fast-dllm-dual</c> / <c>-prefix</c>: which keys/values Fast-dLLM keeps, which changes the
/// tokens for a model of more than one layer; <c>fast-dllm-dkv</c>: dKV-Cache's delayed cache inside Fast-dLLM's decoding) and LLaDA's remasking (<c>llada-random</c>);</item>
/// <item><c>ar</c> and <c>block</c> use their cache (exact: same tokens as <c>-nocache</c>, fewer FLOPs);</item>
/// <item>numeric knobs (steps, block length, threshold, factor, temperature, …) are not part of a name: they are
/// <see cref="SamplerSettings"/>, recorded next to the name.</item>
/// </list>
/// </summary>
public static class SamplerFactory
{
    /// <summary>The canonical names <see cref="Create"/> accepts, each the <see cref="ISampler.Name"/> of what it builds.</summary>
    public static readonly IReadOnlyList<string> Names =
    [
        "maskgit_plus", "origin", "topk_margin", "entropy", "p2", "fast-dllm-dual", "fast-dllm-prefix", "fast-dllm-dkv",
        "fast-dllm-nocache", "llada", "llada-random", "block", "block-nocache", "ar", "ar-nocache",
    ];

    /// <summary>
    /// Older names still accepted, each for exactly the configuration of its canonical name: <c>fast-dllm</c> (before the
    /// cache was part of every Fast-dLLM name) = <c>fast-dllm-dual</c>. What gets recorded is the canonical name.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> Aliases = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["fast-dllm"] = "fast-dllm-dual",
    };

    /// <summary>The canonical name of <paramref name="name"/> (itself, or what an alias stands for); throws
    /// <see cref="ArgumentException"/> listing the valid names when it is neither.</summary>
    public static string Canonical(string name) =>
        Names.Contains(name) ? name
        : Aliases.TryGetValue(name, out var canonical) ? canonical
        : throw new ArgumentException($"unknown sampler '{name}'; valid samplers: {string.Join(", ", Names)}");

    /// <summary>
    /// The sampler <paramref name="name"/> (a name of <see cref="Names"/> or an alias) with <paramref name="settings"/>;
    /// its <see cref="ISampler.Name"/> is the canonical name. A knob the sampler would ignore is refused
    /// when it is set away from its "off" value (top_p / top_k for llada and block, alg_temp outside maskgit_plus,
    /// topk_margin and entropy, factor outside fast-dllm, refresh_interval outside fast-dllm-dkv), so no setting silently leaves the numbers unchanged.
    /// </summary>
    public static ISampler Create(string name, SamplerSettings? settings = null)
    {
        var s = settings ?? new SamplerSettings();
        name = Canonical(name);
        RejectUnused(name, s.ValidateValues());
        MaskedDiffusionSampler Masked(UnmaskingAlgorithm algorithm) => new(new MaskedDiffusionOptions
        {
            Algorithm = algorithm, Steps = s.Steps, Temperature = s.Temperature, TopP = s.TopP, TopK = s.TopK,
            AlgTemp = s.AlgTemp, Seed = s.Seed, RecordTrajectory = s.RecordTrajectory,
        });
        FastDllmSampler Fast(FastDllmCache cache) => new(new FastDllmOptions
        {
            BlockLength = s.BlockLength, Threshold = s.Threshold, Factor = s.Factor, Cache = cache, Temperature = s.Temperature,
            RefreshInterval = s.RefreshInterval ?? FastDllmOptions.DefaultRefreshInterval,
            TopP = s.TopP, TopK = s.TopK, Seed = s.Seed, RecordTrajectory = s.RecordTrajectory,
        });
        LladaSampler Llada(RemaskingStrategy remasking) => new(new LladaOptions
        {
            Steps = s.Steps, Temperature = s.Temperature, Remasking = remasking, Seed = s.Seed, RecordTrajectory = s.RecordTrajectory,
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
            "fast-dllm-dual" => Fast(FastDllmCache.Dual),
            "fast-dllm-prefix" => Fast(FastDllmCache.Prefix),
            "fast-dllm-dkv" => Fast(FastDllmCache.Delayed),
            "fast-dllm-nocache" => Fast(FastDllmCache.None),
            // one block (LLaDA's default, block = generation length): any length works; semi-AR blocks need LladaSampler directly
            "llada" => Llada(RemaskingStrategy.LowConfidence),
            "llada-random" => Llada(RemaskingStrategy.Random),
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
        bool filters = !(name is "llada" or "llada-random" or "block" or "block-nocache");
        void Refuse(string option, string value, string users) =>
            throw new ArgumentException($"{option} = {value} is not used by the {name} sampler (only by {users}); leave it unset");
        if (!filters && s.TopP is { } p) Refuse("top_p", SamplerOptionChecks.Show(p), "the masked-diffusion, fast-dllm and ar samplers");
        if (!filters && s.TopK is { } k) Refuse("top_k", k.ToString(System.Globalization.CultureInfo.InvariantCulture), "the masked-diffusion, fast-dllm and ar samplers");
        if (!confident && s.AlgTemp != 0) Refuse("alg_temp", SamplerOptionChecks.Show(s.AlgTemp), "maskgit_plus, topk_margin and entropy");
        if (!name.StartsWith("fast-dllm", StringComparison.Ordinal) && s.Factor is { } f) Refuse("factor", SamplerOptionChecks.Show(f), "the fast-dllm samplers");
        if (name != "fast-dllm-dkv" && s.RefreshInterval is { } r) Refuse("refresh_interval", r.ToString(System.Globalization.CultureInfo.InvariantCulture), "fast-dllm-dkv");
    }
}

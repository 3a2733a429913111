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
}

/// <summary>Builds a sampler from its name (SPEC §5), so a command line or notebook can swap samplers by a string.</summary>
public static class SamplerFactory
{
    /// <summary>The names <see cref="Create"/> accepts.</summary>
    public static readonly IReadOnlyList<string> Names =
    [
        "maskgit_plus", "origin", "topk_margin", "entropy", "p2", "fast-dllm", "fast-dllm-prefix", "fast-dllm-nocache", "llada", "block", "block-nocache", "ar", "ar-nocache",
    ];

    public static ISampler Create(string name, SamplerSettings? settings = null)
    {
        var s = settings ?? new SamplerSettings();
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
}

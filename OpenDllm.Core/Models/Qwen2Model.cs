using OpenDllm.Attention;
using OpenDllm.Config;
using OpenDllm.Modules;
using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Models;

/// <summary>The <c>model.</c> prefix of the Hugging Face parameter names: embeddings, decoder layers, final norm.</summary>
public sealed class Qwen2Backbone : nn.Module
{
    [ComponentName(Name = "embed_tokens")] internal readonly Embedding EmbedTokens;
    [ComponentName(Name = "layers")] internal readonly ModuleList<DecoderLayer> Layers;
    [ComponentName(Name = "norm")] internal readonly RmsNorm Norm;

    public Qwen2Backbone(ModelConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(Qwen2Backbone))
    {
        EmbedTokens = nn.Embedding(config.VocabSize, config.HiddenSize, device: device, dtype: dtype);
        Layers = nn.ModuleList(Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new DecoderLayer(config, device, dtype)).ToArray());
        Norm = new RmsNorm(config.HiddenSize, config.RmsNormEps, device, dtype);
        RegisterComponents();
    }
}

/// <summary>
/// A Qwen2-architecture transformer (Qwen2.5-Coder, Open-dCoder): embeddings → N × [RMSNorm → GQA attention with RoPE →
/// residual → RMSNorm → SwiGLU → residual] → RMSNorm → LM head (tied to the embeddings or not). Parameter names are the
/// Hugging Face ones, so its state dict round-trips with HF checkpoints. Attention is a per-call policy
/// (<see cref="ModelInput.Attention"/>): the same weights run causally (AR) or bidirectionally (diffusion).
/// </summary>
public sealed partial class Qwen2Model : LanguageModel
{
    [ComponentName(Name = "model")] readonly Qwen2Backbone _model;
    [ComponentName(Name = "lm_head")] readonly Linear? _lmHead;

    public Qwen2Model(ModelConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(Qwen2Model))
    {
        Config = config.Validate();
        _model = new Qwen2Backbone(config, device, dtype);
        if (!config.TieWordEmbeddings)
            _lmHead = nn.Linear(config.HiddenSize, config.VocabSize, hasBias: false, device: device, dtype: dtype);
        RegisterComponents();
    }

    public ModelConfig Config { get; private set; }

    /// <summary>
    /// Replaces fields of the config that do not change the architecture (mask id, shifted logits, dtype name, ids);
    /// throws if an architectural field differs.
    /// </summary>
    public Qwen2Model WithConfig(ModelConfig config)
    {
        var a = Config; var b = config.Validate();
        if (a.HiddenSize != b.HiddenSize || a.IntermediateSize != b.IntermediateSize || a.NumHiddenLayers != b.NumHiddenLayers
            || a.NumAttentionHeads != b.NumAttentionHeads || a.KeyValueHeads != b.KeyValueHeads || a.HeadDim != b.HeadDim
            || a.VocabSize != b.VocabSize || a.TieWordEmbeddings != b.TieWordEmbeddings || a.RopeTheta != b.RopeTheta || a.RmsNormEps != b.RmsNormEps)
            throw new ArgumentException("WithConfig cannot change the architecture; build a new model instead");
        Config = b;
        return this;
    }

    /// <summary>The output projection's weight [V, D]: the embedding matrix when tied.</summary>
    public override Tensor HeadWeight => _lmHead?.weight ?? _model.EmbedTokens.weight!;

    public override string ModelType => Config.ModelType;
    public override int VocabSize => Config.VocabSize;
    public override int MaxPositions => Config.MaxPositionEmbeddings;
    public override long? MaskTokenId => Config.MaskTokenId;
    public override bool ShiftedLogits => Config.IsShifted;
    public override bool SupportsKvCache => true;
    public override (string Embedding, string Head)? TiedWeights =>
        Config.TieWordEmbeddings ? ("model.embed_tokens.weight", "lm_head.weight") : null;
    /// <summary>Records the alignment as an override (<see cref="ModelConfig.ShiftedSource"/>), as <c>--shifted</c> asks.</summary>
    public override Qwen2Model WithShiftedLogitsOverride(bool shiftedLogits) => WithConfig(Config.WithShiftedLogitsOverride(shiftedLogits));
    public override Qwen2Model NewOfSameArchitecture(Device? device = null, ScalarType? dtype = null) => new(Config, device, dtype);

    public override Qwen2Model WithDiffusionSettings(long? maskTokenId = null, bool? shiftedLogits = null) =>
        WithConfig(Config with
        {
            MaskTokenId = maskTokenId is { } m ? checked((int)m) : Config.MaskTokenId,
            ShiftedLogits = shiftedLogits ?? Config.ShiftedLogits,
        });

    public override ModelOutput forward(ModelInput input)
    {
        using var scope = NewDisposeScope();
        var (x, hidden, cache) = Trunk(input);
        if (input.OutputPositions is { } selected) x = x[TensorIndex.Tensor(selected)];    // [N, D]: only the rows asked for
        var logits = HeadLogits(x);                                                        // [B, Lq, V] or [N, V]

        logits.MoveToOuterDisposeScope();
        hidden?.ForEach(h => h.MoveToOuterDisposeScope());
        cache?.MoveToOuterDisposeScope();
        return new ModelOutput(logits, hidden, cache);
    }

    /// <summary>
    /// The forward without the LM head: the final-norm hidden states [B, Lq, D] and the head weight [V, D], so a loss can
    /// apply the head to the rows it needs, a chunk at a time (<see cref="Objectives.ChunkedCrossEntropy"/>), instead of
    /// materialising [B, Lq, V] logits. <see cref="ModelInput.OutputPositions"/> and <see cref="ModelInput.ReturnCache"/> are
    /// not used here; with <see cref="ModelInput.ReturnHiddenStates"/> the same forward also returns the HF hidden states
    /// (<see cref="HeadInput.HiddenStates"/>, SPEC §3), so representation alignment needs no second student forward.
    /// </summary>
    public override HeadInput ForwardToHead(ModelInput input)
    {
        // a new wrapper of the parameter (or its differentiable cast to the compute dtype): it belongs to the caller's scope
        var weight = ComputeDtype is { } d ? ComputePrecision.Cast(HeadWeight, d) : HeadWeight;
        using var scope = NewDisposeScope();
        var (x, hidden, _) = Trunk(input with { ReturnCache = false, OutputPositions = null });
        hidden?.ForEach(h => h.MoveToOuterDisposeScope());
        return new HeadInput(x.MoveToOuterDisposeScope(), weight) { HiddenStates = hidden };
    }

    /// <summary>Embeddings → layers → final norm: [B, Lq, D], plus the HF hidden states and the cache when asked for.</summary>
    (Tensor Hidden, List<Tensor>? HiddenStates, KvCache? Cache) Trunk(ModelInput input)
    {
        var tokens = input.Tokens;
        if (tokens.dim() != 2) throw new ArgumentException($"tokens must be [B, L], got [{string.Join(", ", tokens.shape)}]");
        var policy = input.Attention;
        long lq = tokens.shape[1];
        long offset = input.CacheOffset ?? input.Cache?.Length ?? 0;
        long keyLength = input.Cache is null ? lq : Math.Max(input.Cache.Length, offset + lq);
        if (input.Cache is null && offset != 0) throw new ArgumentException("CacheOffset needs a Cache");

        // 1. rotary angles for the query positions                                  [Lq, d] or [B, Lq, d]
        var positions = input.PositionIds ?? arange(offset, offset + lq, dtype: ScalarType.Int64, device: tokens.device);
        var (cos, sin) = RotaryEmbedding.CosSin(positions, Config.HeadDim, Config.RopeTheta);
        (cos, sin) = RotaryEmbedding.ForHeads(cos, sin, ActivationDtype);   // [B|1, 1, Lq, d], once for all layers

        // 2. the one attention mask of this call; null (fused SDPA kernel) when nothing is hidden   [B|1, 1, Lq, Lk] or null
        bool plainCausal = policy is CausalAttention && input.Cache is null && input.KeyPadding is null && input.DocumentIds is null;
        var mask = plainCausal ? null : AttentionMaskBuilder.Build(policy, lq, keyLength, offset, tokens.device,
            input.KeyPadding, input.DocumentIds, input.Cache is null ? input.DocumentIds : null);
        if (input.DocumentIds is not null && input.Cache is not null)
            throw new ArgumentException("packed-document attention is not supported together with a KV cache");

        // 3. embeddings → layers → norm                                              [B, Lq, D]
        var x = ComputePrecision.Cast(_model.EmbedTokens.forward(tokens), ComputeDtype);     // gather, then cast (mixed precision)
        var hidden = input.ReturnHiddenStates ? new List<Tensor> { x } : null;
        var kvs = input.ReturnCache ? new List<LayerKv>(Config.NumHiddenLayers) : null;
        for (int i = 0; i < _model.Layers.Count; i++)
        {
            var output = _model.Layers[i].forward(new AttentionInput(x, cos, sin, mask, plainCausal, input.Cache?.Layers[i], offset));
            x = output.Hidden;
            kvs?.Add(output.Kv);
            if (hidden is not null && i < _model.Layers.Count - 1) hidden.Add(x);
        }
        x = _model.Norm.forward(x);
        hidden?.Add(x);
        return (x, hidden, kvs is null ? null : new KvCache(kvs));
    }

    /// <summary>
    /// Deterministic random initialisation from <paramref name="seed"/>: weights and embeddings ~ N(0, std²)
    /// (HF's <c>initializer_range</c>, default 0.02), biases 0, norm weights 1. The normals are drawn on the CPU in each
    /// parameter's dtype and copied to its device (<see cref="Sampling.SeededDraws"/>), so a seed gives the same weights
    /// on every device.
    /// </summary>
    public override Qwen2Model InitializeWeights(long seed, double? std = null)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var generator = Sampling.SeededDraws.ForSeed(seed);
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("norm.weight", StringComparison.Ordinal)) p.fill_(1.0);
            else if (name.EndsWith(".bias", StringComparison.Ordinal)) p.zero_();
            else Sampling.SeededDraws.FillNormal(p, 0, std ?? 0.02, generator);
        }
        return this;
    }
}

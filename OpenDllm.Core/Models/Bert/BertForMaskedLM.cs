using OpenDllm.Attention;
using OpenDllm.Modules;
using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace OpenDllm.Models.Bert;

/// <summary>
/// HF <c>BertForMaskedLM</c>: <c>bert</c> (<see cref="BertModel"/>) and the MLM head <c>cls.predictions</c>
/// (<see cref="BertLMPredictionHead"/>) whose decoder is tied to the word embeddings:
/// <code>
/// H      = BertModel(x)                        [B, L, D]    last_hidden_state
/// T      = LayerNorm(GELU(H·W_tᵀ + b_t))      [B, L, D]    cls.predictions.transform
/// logits = T·W_wordᵀ + b                      [B, L, V]    unshifted: row i predicts token i
/// </code>
/// Parameter names are the Hugging Face ones, so the state dict round-trips with HF checkpoints
/// (<see cref="FromPretrained"/>, <see cref="SavePretrained(string)"/>). A <see cref="LanguageModel"/>: the trainer, its
/// methods, the pipelines and every sampler without a KV cache use it as they use <see cref="Qwen2Model"/>.
/// </summary>
public sealed partial class BertForMaskedLM : LanguageModel
{
    [ComponentName(Name = "bert")] readonly BertModel _bert;
    [ComponentName(Name = "cls")] readonly BertOnlyMlmHead _cls;

    public BertForMaskedLM(BertConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(BertForMaskedLM))
    {
        Config = config.Validate();
        _bert = new BertModel(config, device, dtype);
        _cls = new BertOnlyMlmHead(config, device, dtype);
        RegisterComponents();
    }

    public BertConfig Config { get; private set; }

    /// <summary>The encoder (HF <c>bert.</c>): its forward returns <c>last_hidden_state</c> and the hidden states.</summary>
    public BertModel Bert => _bert;

    public override string ModelType => "bert";

    /// <summary>Rows of the logits (vocab_size).</summary>
    public override int VocabSize => Config.VocabSize;

    /// <summary>Longest sequence (max_position_embeddings): learned positions have no row beyond.</summary>
    public override int MaxPositions => Config.MaxPositionEmbeddings;

    /// <summary>The config's <c>mask_token_id</c>, or null.</summary>
    public override long? MaskTokenId => Config.MaskTokenId;

    /// <summary>Always false: an encoder's output at position i predicts token i (the config refuses <c>shifted_logits: true</c>).</summary>
    public override bool ShiftedLogits => Config.ShiftedLogits ?? false;

    /// <summary>The decoder is tied to the word embeddings.</summary>
    public override (string Embedding, string Head)? TiedWeights => (WordEmbeddingsKey, "cls.predictions.decoder.weight");

    public override BertForMaskedLM NewOfSameArchitecture(Device? device = null, ScalarType? dtype = null) => new(Config, device, dtype);

    /// <summary>Sets the mask id; a shifted alignment is refused by the config (an encoder is never shifted).</summary>
    public override BertForMaskedLM WithDiffusionSettings(long? maskTokenId = null, bool? shiftedLogits = null) =>
        WithConfig(Config with
        {
            MaskTokenId = maskTokenId is { } m ? checked((int)m) : Config.MaskTokenId,
            ShiftedLogits = shiftedLogits is null ? Config.ShiftedLogits : shiftedLogits.Value ? true : null,
        });

    public override IReadOnlyList<string> LoadNotes => LoadReport?.Notes(_initSeed).ToList() ?? [];

    /// <summary>Replaces non-architectural fields (mask id, dtype name); throws when an architectural field differs.</summary>
    public BertForMaskedLM WithConfig(BertConfig config)
    {
        var b = config.Validate();
        var a = Config;
        if (a with { MaskTokenId = b.MaskTokenId, TorchDtype = b.TorchDtype, ShiftedLogits = b.ShiftedLogits, ExtraFields = b.ExtraFields,
                     Architectures = b.Architectures } != b)
            throw new ArgumentException("WithConfig cannot change the architecture; build a new model instead");
        Config = b;
        return this;
    }

    /// <summary>The decoder weight [V, D]: the word embedding matrix (tied).</summary>
    public override Tensor HeadWeight => _bert.WordEmbeddings;

    /// <summary>The decoder bias [V] (<c>cls.predictions.bias</c>).</summary>
    public Tensor HeadBias => _cls.Predictions.Bias;

    // ComputeDtype (LanguageModel): linear layers cast their weights at use, LayerNorm and the logits are float32
    // (BertPrecision), as for Qwen2Model.

    /// <summary>
    /// Logits (unshifted) and, when <see cref="ModelInput.ReturnHiddenStates"/>, HF's N + 1 hidden states. With
    /// <see cref="ModelInput.OutputPositions"/> the head runs on the selected rows only and the logits are [N, V].
    /// A cache request throws <see cref="NotSupportedException"/>.
    /// </summary>
    public override ModelOutput forward(ModelInput input)
    {
        using var scope = NewDisposeScope();
        var encoded = _bert.forward(input);
        var x = encoded.LastHiddenState;                                                   // [B, L, D]
        if (input.OutputPositions is { } selected) x = x[TensorIndex.Tensor(selected)];     // [N, D]
        var logits = HeadLogits(x).MoveToOuterDisposeScope();
        encoded.HiddenStates?.ToList().ForEach(h => h.MoveToOuterDisposeScope());
        return new ModelOutput(logits, encoded.HiddenStates);
    }

    /// <summary>
    /// The forward up to the decoder: <c>T = transform(H)</c> [B, L, D], the decoder weight [V, D] and bias [V], so a loss
    /// forms logits = T·Wᵀ + b a chunk of rows at a time (<see cref="Objectives.ChunkedCrossEntropy"/>).
    /// OutputPositions and ReturnHiddenStates are not used here.
    /// </summary>
    public override HeadInput ForwardToHead(ModelInput input)
    {
        var weight = ComputePrecision.Cast(HeadWeight, ComputeDtype);
        var bias = ComputePrecision.Cast(HeadBias, ComputeDtype);
        using var scope = NewDisposeScope();
        var h = _bert.forward(input with { ReturnHiddenStates = false, OutputPositions = null }).LastHiddenState;
        return new HeadInput(_cls.Predictions.Transform.forward(h).MoveToOuterDisposeScope(), weight) { Bias = bias };
    }

    /// <summary>logits = transform(h)·W_wordᵀ + b for hidden rows <paramref name="hidden"/> [.., D] → [.., V]; float32 under a compute dtype.</summary>
    public Tensor HeadLogits(Tensor hidden)
    {
        var t = _cls.Predictions.Transform.forward(hidden);
        if (ComputeDtype is not { } d) return nn.functional.linear(t, HeadWeight, HeadBias);
        var logits = nn.functional.linear(ComputePrecision.Cast(t, d), ComputePrecision.Cast(HeadWeight, d), ComputePrecision.Cast(HeadBias, d));
        return ComputePrecision.Cast(logits, ScalarType.Float32);
    }

    /// <summary>
    /// HF BERT's initialisation from <paramref name="seed"/>: linear weights and embeddings ~ N(0, std²) (default
    /// <c>initializer_range</c>), biases 0, LayerNorm γ = 1 and β = 0, the padding row of the word embeddings 0. Drawn on the CPU
    /// in each parameter's dtype (<see cref="Sampling.SeededDraws"/>), so a seed gives the same weights on every device.
    /// </summary>
    public override BertForMaskedLM InitializeWeights(long seed, double? std = null)
    {
        InitializeParameters(named_parameters().Select(p => (p.name, (Tensor)p.parameter)), seed, std ?? Config.InitializerRange);
        return this;
    }

    /// <summary>The rule of <see cref="InitializeWeights"/> applied to the given parameters (in that order) only.</summary>
    void InitializeParameters(IEnumerable<(string Name, Tensor Parameter)> parameters, long seed, double std)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var generator = Sampling.SeededDraws.ForSeed(seed);
        foreach (var (name, p) in parameters)
        {
            if (name.Contains("LayerNorm.", StringComparison.Ordinal)) { if (name.EndsWith(".weight", StringComparison.Ordinal)) p.fill_(1.0); else p.zero_(); }
            else if (name.EndsWith("bias", StringComparison.Ordinal)) p.zero_();
            else
            {
                Sampling.SeededDraws.FillNormal(p, 0, std, generator);
                if (name == WordEmbeddingsKey) p[Config.PadTokenId].zero_();
            }
        }
    }
}

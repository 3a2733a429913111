using OpenDllm.Attention;
using OpenDllm.Data;
using OpenDllm.Models;
using static TorchSharp.torch;

namespace OpenDllm.Methods.Ldlm;

/// <summary>
/// LDLM's first component (SPEC §6.1): a pretrained language model, frozen, whose hidden states at one layer are what the
/// latent space compresses. Any <see cref="LanguageModel"/> serves (the quickstart's diffusion coder, a converted BERT, a
/// Qwen2 checkpoint). Its weights never change (every parameter has requires_grad = false, it stays in eval mode and runs
/// under no grad) and it is never needed at inference: the sampler generates latents and decodes them without it.
/// </summary>
public sealed class FrozenEncoder
{
    /// <summary>Freezes <paramref name="model"/> and finds its layer count and width with a one-token probe.</summary>
    /// <param name="layer">Index into the num_layers + 1 Hugging Face hidden states, Python-style (−1 = the last).</param>
    /// <param name="normalizeHidden">Standardise each token's state over D (layer norm without affine weights).</param>
    public FrozenEncoder(LanguageModel model, int layer, EncoderAttention attention, bool normalizeHidden = true)
    {
        NormalizeHidden = normalizeHidden;
        Model = model;
        foreach (var p in model.parameters()) p.requires_grad = false;
        model.eval();
        Attention = attention == EncoderAttention.Causal ? AttentionPolicy.Causal : AttentionPolicy.Bidirectional;
        HiddenSize = model.HeadWeight.shape[1];
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var probe = zeros([1, 1], dtype: ScalarType.Int64, device: model.HeadWeight.device);
        int states = model.ForwardToHead(new ModelInput(probe, Attention, ReturnHiddenStates: true)).HiddenStates!.Count;
        if (layer < -states || layer >= states)
            throw new ArgumentOutOfRangeException("train.ldlm.encoder_layer", layer,
                $"train.ldlm.encoder_layer = {layer}: the encoder has {states} hidden states (num_layers + 1); use {-states} … {states - 1}");
        LayerIndex = layer < 0 ? states + layer : layer;
        HiddenStateCount = states;
    }

    /// <summary>The frozen model.</summary>
    public LanguageModel Model { get; }

    /// <summary>How it attends.</summary>
    public AttentionPolicy Attention { get; }

    /// <summary>D, the width of its hidden states.</summary>
    public long HiddenSize { get; }

    /// <summary>The hidden state used, as a non-negative index into the num_layers + 1 states.</summary>
    public int LayerIndex { get; }

    /// <summary>Whether <see cref="HiddenStates(ModelInput)"/> standardises each token's state.</summary>
    public bool NormalizeHidden { get; }

    /// <summary>Per-dimension mean μ [D] subtracted after the per-token normalisation, or null until calibrated.</summary>
    public Tensor? FeatureMean { get; private set; }

    /// <summary>Per-dimension standard deviation σ [D] divided by, or null until calibrated.</summary>
    public Tensor? FeatureStd { get; private set; }

    /// <summary>
    /// Sets the per-dimension statistics h ← (h − μ)/σ applied after the per-token normalisation (σ floored at 1e-3), from
    /// saved values or from <see cref="Calibrate(ModelInput)"/>. In a language model's
    /// states most of the energy is one direction shared by every token (74 % at the quickstart's layer −3 after the
    /// per-token normalisation); without removing it, L_h is met by the mean and the latents learn nothing of the text.
    /// </summary>
    public void Calibrate(Tensor mean, Tensor std)
    {
        FeatureMean?.Dispose(); FeatureStd?.Dispose();
        var device = Model.HeadWeight.device;
        FeatureMean = mean.detach().to(ScalarType.Float32).to(device).clone().DetachFromDisposeScope();
        FeatureStd = std.detach().to(ScalarType.Float32).to(device).clamp_min(1e-3).DetachFromDisposeScope();
    }

    /// <summary>Estimates μ and σ from the non-pad positions of one input (<see cref="Calibrate(Tensor, Tensor)"/>).</summary>
    public void Calibrate(ModelInput input)
    {
        using var scope = NewDisposeScope();
        var h = RawHiddenStates(input);                                                          // [B, L, D]
        var keep = input.KeyPadding ?? ones(h.shape[0], h.shape[1], dtype: ScalarType.Bool, device: h.device);
        var rows = h[keep];                                                                      // [N, D]
        Calibrate(rows.mean([0]), rows.std([0]));
    }

    /// <summary>num_layers + 1.</summary>
    public int HiddenStateCount { get; }

    /// <summary>
    /// h [B, L, D]: the hidden state at <see cref="LayerIndex"/> of the clean tokens of <paramref name="batch"/> with its
    /// position ids, document ids and key padding, computed under no grad (no graph, no gradient ever reaches the model).
    /// </summary>
    public Tensor HiddenStates(PackedBatch batch) => HiddenStates(batch.ToModelInput(Attention));

    /// <summary>h [B, L, D] of a model input (its attention is replaced by the encoder's); with <see cref="NormalizeHidden"/>,
    /// h ← (h − mean_D h)/√(var_D h + 1e-5) per token, then h ← (h − μ)/σ per dimension once calibrated.</summary>
    public Tensor HiddenStates(ModelInput input)
    {
        var h = RawHiddenStates(input);
        return FeatureMean is null ? h : (h - FeatureMean) / FeatureStd!;
    }

    /// <summary>h with the per-token normalisation only.</summary>
    Tensor RawHiddenStates(ModelInput input)
    {
        using var noGrad = no_grad();
        var h = Model.ForwardToHead(input with { Attention = Attention, ReturnHiddenStates = true }).HiddenStates![LayerIndex];
        return NormalizeHidden ? nn.functional.layer_norm(h.to(ScalarType.Float32), [HiddenSize], eps: 1e-5) : h.to(ScalarType.Float32);
    }
}

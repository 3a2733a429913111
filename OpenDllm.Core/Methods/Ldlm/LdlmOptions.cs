using System.Text.Json.Serialization;

namespace OpenDllm.Methods.Ldlm;

/// <summary>Where the warmup factor γ(s) of LDLM's diffusion loss acts (<c>train.ldlm.gamma_placement</c>; SPEC §6.3 flags
/// the exact placement as unverified).</summary>
public enum GammaPlacement
{
    /// <summary>Default (SPEC §6.3's recommendation): the denoiser learns from L_diff at full strength; the gradient L_diff
    /// sends into the encoder is scaled by γ through z_in = γ·z + (1 − γ)·sg(z).</summary>
    [JsonStringEnumMemberName("encoder_gradient")] EncoderGradient,
    /// <summary>The seed read literally: L = γ·L_diff + L_h + L_w, so γ also scales what the denoiser learns.</summary>
    [JsonStringEnumMemberName("whole_term")] WholeTerm,
    /// <summary>No warmup (γ = 1): naive joint training, the collapse the paper warns about; for ablations.</summary>
    [JsonStringEnumMemberName("none")] None,
}

/// <summary>How the frozen encoder of LDLM attends (<c>train.ldlm.encoder_attention</c>).</summary>
public enum EncoderAttention
{
    /// <summary>Every token sees every token: a diffusion or BERT encoder (default).</summary>
    [JsonStringEnumMemberName("bidirectional")] Bidirectional,
    /// <summary>Each token sees its past: an autoregressive encoder.</summary>
    [JsonStringEnumMemberName("causal")] Causal,
}

/// <summary>How LDLM draws diffusion times in training (<c>train.ldlm.time_sampler</c>).</summary>
public enum LatentTimeSampler
{
    /// <summary>Adaptive, density ∝ the slope of the per-bin loss EMA (SPEC §6.5; uniform until every bin has data).</summary>
    [JsonStringEnumMemberName("adaptive")] Adaptive,
    /// <summary>t ~ U(0, 1).</summary>
    [JsonStringEnumMemberName("uniform")] Uniform,
}

/// <summary>
/// The options of latent diffusion (<c>train.ldlm</c> in a recipe with <c>train.objective: ldlm</c>; SPEC §6). The
/// frozen encoder is the recipe's model (<c>model.init_from</c> or <c>model.init_from_recipe</c>); the trained modules'
/// shapes are <see cref="Modules"/>, whose encoder width, vocabulary and length come from the encoder and
/// <c>data.seq_len</c>. Bound strictly (unknown keys fail) and checked by <see cref="Validate"/> with the key named.
/// </summary>
public sealed record LdlmOptions
{
    /// <summary>Which of the encoder's num_layers + 1 Hugging Face hidden states feeds the Perceiver, Python-style
    /// (−1 = the last, after the final norm; the seed takes −3).</summary>
    public int EncoderLayer { get; init; } = -3;
    /// <summary>How the frozen encoder attends: bidirectional (a diffusion or BERT encoder, default) or causal (an AR one).</summary>
    public EncoderAttention EncoderAttention { get; init; } = EncoderAttention.Bidirectional;
    /// <summary>Standardise each token's hidden state, h ← (h − mean(h))/√(var(h) + 1e-5) over D, before it feeds the Perceiver
    /// and as the target of L_h (default true). SPEC §6.3 does not say how h is scaled; a raw residual stream can be far from
    /// unit scale (the quickstart's layer −3 has RMS ≈ 80), which would make L_h swamp L_w and L_diff and drown the encoder's
    /// positions. False regresses h as the model emits it.</summary>
    public bool NormalizeHidden { get; init; } = true;
    /// <summary>Also standardise each dimension of h, h ← (h − μ)/σ, with μ, σ estimated once on the first validation batch
    /// before training and saved with every checkpoint (default true).
    /// Most of a language model's state is a direction shared by every token (74 % of the energy at the quickstart's layer
    /// −3); left in, L_h is met by predicting that mean and the latents learn nothing of the text.</summary>
    public bool StandardizeFeatures { get; init; } = true;
    /// <summary>The trained modules' shapes; leave encoder_hidden_size, vocab_size and length out (they are derived).</summary>
    public LdlmArchitecture Modules { get; init; } = new();
    /// <summary>σ_dec: noise added to the latents the decoder sees in training (SPEC §6.3; the seed: 3.0). 0 = none.</summary>
    public double SigmaDec { get; init; } = 3.0;
    /// <summary>Probability of a self-conditioned training pass (SPEC §6.6: 0.5).</summary>
    public double SelfConditioning { get; init; } = 0.5;
    /// <summary>d of the tan-d schedule (SPEC §6.4: 3).</summary>
    public double ScheduleD { get; init; } = 3.0;
    /// <summary>k of γ(s) = sigmoid(k·(s/S − c)) (SPEC §6.3: 10).</summary>
    public double GammaSteepness { get; init; } = Objectives.DiffusionWarmup.DefaultSteepness;
    /// <summary>c of γ(s) (SPEC §6.3: 0.8).</summary>
    public double GammaCenter { get; init; } = Objectives.DiffusionWarmup.DefaultCenter;
    /// <summary>Where γ acts (default: on the encoder's gradient only).</summary>
    public GammaPlacement GammaPlacement { get; init; } = GammaPlacement.EncoderGradient;
    /// <summary>adaptive (default) or uniform.</summary>
    public LatentTimeSampler TimeSampler { get; init; } = LatentTimeSampler.Adaptive;
    /// <summary>Bins of the adaptive sampler (SPEC §6.5: not published; a knob).</summary>
    public int AdaptiveBins { get; init; } = 20;
    /// <summary>β of the adaptive sampler's EMA.</summary>
    public double AdaptiveEma { get; init; } = 0.9;
    /// <summary>ε, the least bin weight of the adaptive sampler (loss units).</summary>
    public double AdaptiveFloor { get; init; } = 1e-3;
    /// <summary>Sequences generated at each evaluation to score generated text (0 = skip).</summary>
    public int ValidationSamples { get; init; } = 8;
    /// <summary>Denoising steps of those generations (DDIM).</summary>
    public int ValidationSteps { get; init; } = 10;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first bad key (prefixed by <paramref name="key"/>).</summary>
    public LdlmOptions Validate(string source = "recipe", string key = "train.ldlm")
    {
        void Check(bool ok, string name, object? value, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException($"{key}.{name}", value, $"{source}: {key}.{name} = {value ?? "null"} is out of range: {rule}");
        }
        Check(Enum.IsDefined(EncoderAttention), "encoder_attention", EncoderAttention, "bidirectional or causal");
        Check(Modules.EncoderHiddenSize == 0, "modules.encoder_hidden_size", Modules.EncoderHiddenSize, "set from the encoder model; remove it");
        Check(Modules.VocabSize == 0, "modules.vocab_size", Modules.VocabSize, "set from the tokenizer; remove it");
        Check(Modules.Length == 0, "modules.length", Modules.Length, "set from data.seq_len; remove it");
        Check(SigmaDec >= 0 && double.IsFinite(SigmaDec), "sigma_dec", SigmaDec, "finite and ≥ 0");
        Check(SelfConditioning is >= 0 and <= 1, "self_conditioning", SelfConditioning, "in [0, 1]");
        Check(ScheduleD > 0 && double.IsFinite(ScheduleD), "schedule_d", ScheduleD, "finite and > 0");
        Check(GammaSteepness > 0 && double.IsFinite(GammaSteepness), "gamma_steepness", GammaSteepness, "finite and > 0");
        Check(double.IsFinite(GammaCenter), "gamma_center", GammaCenter, "finite");
        Check(Enum.IsDefined(GammaPlacement), "gamma_placement", GammaPlacement, "encoder_gradient, whole_term or none");
        Check(Enum.IsDefined(TimeSampler), "time_sampler", TimeSampler, "adaptive or uniform");
        Check(AdaptiveBins >= 2, "adaptive_bins", AdaptiveBins, "≥ 2");
        Check(AdaptiveEma is >= 0 and < 1, "adaptive_ema", AdaptiveEma, "in [0, 1)");
        Check(AdaptiveFloor > 0 && double.IsFinite(AdaptiveFloor), "adaptive_floor", AdaptiveFloor, "finite and > 0");
        Check(ValidationSamples >= 0, "validation_samples", ValidationSamples, "≥ 0 (0 = no generation at evaluation)");
        Check(ValidationSteps >= 1, "validation_steps", ValidationSteps, "≥ 1");
        return this;
    }

    /// <summary>The modules' full shapes for an encoder of width <paramref name="hiddenSize"/>, a vocabulary and a length.</summary>
    public LdlmArchitecture ArchitectureFor(long hiddenSize, int vocabSize, long length, string source = "recipe") =>
        (Modules with { EncoderHiddenSize = hiddenSize, VocabSize = vocabSize, Length = length }).Validate(source, "train.ldlm.modules");
}

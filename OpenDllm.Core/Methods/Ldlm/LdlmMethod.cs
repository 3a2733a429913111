using OpenDllm.Attention;
using OpenDllm.Checkpoints;
using OpenDllm.Data;
using OpenDllm.Models;
using OpenDllm.Objectives;
using OpenDllm.Runtime;
using OpenDllm.Sampling;
using OpenDllm.Schedules;
using OpenDllm.TimeSampling;
using OpenDllm.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Methods.Ldlm;

/// <summary>
/// Latent diffusion with a jointly trained latent space (LDLM; Meshchaninov et al., <see href="https://arxiv.org/abs/2605.07933"/>;
/// SPEC §6). The recipe's model is the frozen encoder (<see cref="FrozenEncoder"/>); the method trains its own modules
/// (<see cref="LdlmModules"/>: Perceiver encoder and decoder, token decoder, DiT denoiser). One micro-batch:
/// <list type="number">
/// <item>h = the frozen LM's hidden state at <c>encoder_layer</c> of the clean tokens (no grad), standardised per token
/// unless <c>normalize_hidden: false</c>;</item>
/// <item>z = Enc(h) [B, K, d] (normalised to √d per vector when asked);</item>
/// <item>L_h = mean ‖Dec(z + σ_dec·ε) − h‖² over D and non-pad positions (decoder-input noise in training only);</item>
/// <item>L_w = CE(TokenDec(sg(ĥ)), tokens) over non-pad positions (the token decoder learns on a stopped ĥ);</item>
/// <item>L_diff = mean ‖ẑ₀(z_t, t, ẑ₀^sc) − z_in‖², z_t = α_t·z_in + σ_t·ε with the tan-d schedule (SPEC §6.4), t from the
/// adaptive sampler (SPEC §6.5), self-conditioning with probability p (first pass at the same (t, ε) detached, SPEC §6.6),
/// and z_in = γ·z + (1 − γ)·sg(z) so the encoder receives γ(s)·∂L_diff/∂z (SPEC §6.3, <c>gamma_placement</c>);</item>
/// <item>L = γ_w·L_diff + L_h + L_w with γ_w = γ(s) only for <c>gamma_placement: whole_term</c>, else 1.</item>
/// </list>
/// Logged beside <c>loss</c>: <c>l_h</c>, <c>l_w</c>, <c>l_diff</c>, <c>gamma</c>, <c>recon_acc</c>. The validation number
/// (<see cref="BoundMetric"/>) is the reconstruction cross-entropy from clean latents in bits per token: not a likelihood
/// bound of generated text (LDLM has none), only how much of the text the latent space keeps.
/// </summary>
public sealed partial class LdlmMethod : IModuleTrainingMethod, IStepAwareMethod, IExtraValidation, IDataCalibratedMethod, IDisposable
{
    /// <summary>The name recipes use.</summary>
    public const string MethodName = "ldlm";

    readonly LdlmModules _modules;
    readonly DeviceAdaptiveTimes? _adaptive;
    readonly ITimestepSampler _uniform = new UniformTimestepSampler(0.0);
    readonly LdlmCheckpointInfo _info;
    long _step, _totalSteps = 1;

    /// <summary>Freezes the recipe's model as the encoder and builds the trained modules from <c>train.ldlm</c> and the seed.</summary>
    public LdlmMethod(TrainingMethodContext context)
    {
        var recipe = context.Recipe;
        Options = (recipe.Train.Ldlm ?? new LdlmOptions()).Validate();
        Encoder = new FrozenEncoder(context.Model, Options.EncoderLayer, Options.EncoderAttention, Options.NormalizeHidden);
        var device = context.Model.HeadWeight.device;
        var architecture = Options.ArchitectureFor(Encoder.HiddenSize, context.Model.VocabSize, recipe.Data.SeqLen);
        _modules = new LdlmModules(architecture, recipe.Train.Seed, device);
        Schedule = new TanDSchedule(Options.ScheduleD);
        if (Options.TimeSampler == LatentTimeSampler.Adaptive)
            _adaptive = new DeviceAdaptiveTimes(new AdaptiveTimestepSampler(Options.AdaptiveBins, Options.AdaptiveEma, Options.AdaptiveFloor));
        var encoderPath = recipe.Model.InitFrom is { } dir ? Path.GetFullPath(dir) : null;
        _info = new LdlmCheckpointInfo
        {
            EncoderPath = encoderPath, EncoderPreset = encoderPath is null ? recipe.Model.Preset : null,
            EncoderModelType = context.Model.ModelType,
            EncoderWeightsSha256 = encoderPath is null ? null : LdlmCheckpointInfo.WeightsSha256(encoderPath),
            EncoderLayer = Encoder.LayerIndex, NormalizeHidden = Options.NormalizeHidden, StandardizeFeatures = Options.StandardizeFeatures, EncoderAttention = Options.EncoderAttention, ScheduleD = Options.ScheduleD,
        };
        MaskId = context.MaskId;
        Tokenizer = context.Tokenizer;
    }

    public string Name => MethodName;
    /// <summary>The frozen encoder LM (never trained, never saved).</summary>
    public LanguageModel Model => Encoder.Model;
    public AttentionPolicy Attention => Encoder.Attention;
    public string BoundMetric => "val_recon_bits";
    public nn.Module Trained => _modules;

    /// <summary><c>train.ldlm</c>, validated.</summary>
    public LdlmOptions Options { get; }
    /// <summary>The frozen encoder.</summary>
    public FrozenEncoder Encoder { get; }
    /// <summary>The trained modules.</summary>
    public LdlmModules Modules => _modules;
    /// <summary>The tan-d schedule (SPEC §6.4).</summary>
    public TanDSchedule Schedule { get; }
    /// <summary>The adaptive time sampler, or null with <c>time_sampler: uniform</c>.</summary>
    public AdaptiveTimestepSampler? AdaptiveTimes => _adaptive?.Sampler;
    /// <summary>What a checkpoint records about the encoder.</summary>
    public LdlmCheckpointInfo CheckpointInfo => _info;

    long MaskId { get; }
    OpenDllm.Tokenization.ITokenizer Tokenizer { get; }

    /// <summary>γ(s) of the current step (SPEC §6.3); 1 with <c>gamma_placement: none</c>.</summary>
    public double Gamma => Options.GammaPlacement == GammaPlacement.None ? 1.0
        : DiffusionWarmup.Gamma(_step, Math.Max(1, _totalSteps), Options.GammaSteepness, Options.GammaCenter);

    /// <inheritdoc/>
    public void BeginStep(long step, long totalSteps)
    {
        _adaptive?.Flush();                       // the previous step's per-bin losses into the EMA (one read per step)
        (_step, _totalSteps) = (step, totalSteps);
    }

    public MethodLoss Loss(PackedBatch batch, Generator generator)
    {
        using var scope = NewDisposeScope();
        var tokens = batch.Tokens;
        var keep = batch.KeyPadding;                                                            // [B, L] true = real

        // 1–4: h, z, ĥ from noisy latents, token logits from sg(ĥ)
        var h = EncoderStates(batch);                                                           // [B, L, D] no grad
        var z = _modules.Encoder.Encode(h, keep);                                               // [B, K, d]
        var zDecoder = Options.SigmaDec > 0 ? z + Options.SigmaDec * Normal(z, generator) : z;
        var hHat = _modules.Decoder.DecodeHidden(zDecoder);                                     // [B, L, D]
        var lH = LatentDiffusionLosses.HiddenMse(hHat, h, keep);
        var logits = _modules.TokenDecoder.forward(hHat.detach());                              // [B, L, V]
        var lW = LatentDiffusionLosses.TokenReconstruction(logits, tokens, keep).Loss;

        // 5: the diffusion loss on z_in (γ-scaled gradient into the encoder)
        double gamma = Gamma;
        var zIn = Options.GammaPlacement == GammaPlacement.EncoderGradient ? DiffusionWarmup.ScaleGradient(z, gamma) : z;
        var t = (_adaptive?.Sample(batch.BatchSize, generator) ?? _uniform.Sample(batch.BatchSize, generator)).to(z.device);   // [B]
        var perSample = DiffusionLossPerSample(zIn, t, generator, selfCondition: SelfConditionCoin(generator));             // [B]
        var lDiff = perSample.mean();
        _adaptive?.Record(t, perSample);

        // 6: the total
        var diffusionWeight = Options.GammaPlacement == GammaPlacement.WholeTerm ? gamma : 1.0;
        var loss = lDiff.MulScalar(diffusionWeight).AddScaled(lH).AddScaled(lW);   // ScalarOps: kept Scalars
        var metrics = new Dictionary<string, Tensor>
        {
            ["l_h"] = lH.detach(), ["l_w"] = lW.detach(), ["l_diff"] = lDiff.detach(),
            ["gamma"] = tensor(gamma, dtype: ScalarType.Float64), ["recon_acc"] = TokenAccuracy(logits, tokens, keep),
        };
        loss.MoveToOuterDisposeScope();
        foreach (var v in metrics.Values) v.MoveToOuterDisposeScope();
        return new MethodLoss(loss, metrics);
    }

    /// <summary>Per-sample x0-prediction MSE [B] at times t [B] with fresh noise (<see cref="SelfConditionedX0Loss"/>).</summary>
    public Tensor DiffusionLossPerSample(Tensor z, Tensor t, Generator generator, bool selfCondition) =>
        SelfConditionedX0Loss.PerSample(_modules.Denoiser, Schedule, z, t, Normal(z, generator), selfCondition);

    /// <summary>With <c>standardize_features</c>: μ and σ of the encoder's states from the first validation batch (the
    /// trainer calls this before anything else; a method used without a trainer calibrates on the first batch it sees).</summary>
    public void Calibrate(PackedLoader validation)
    {
        if (!Options.StandardizeFeatures) return;
        using var batch = validation.InOrder().First();
        Encoder.Calibrate(batch.ToModelInput(Encoder.Attention));
    }

    /// <summary>h of a batch, calibrating the per-dimension standardisation on it when nothing calibrated it yet.</summary>
    Tensor EncoderStates(PackedBatch batch)
    {
        var input = batch.ToModelInput(Encoder.Attention);
        if (Options.StandardizeFeatures && Encoder.FeatureMean is null) Encoder.Calibrate(input);
        return Encoder.HiddenStates(input);
    }

    /// <summary>True with probability <c>self_conditioning</c> (one CPU draw from the step's generator; no device read).</summary>
    bool SelfConditionCoin(Generator generator)
    {
        using var u = SeededDraws.Uniform([1], generator);
        return u.item<double>() < Options.SelfConditioning;
    }

    /// <summary>ε ~ N(0, I) shaped like <paramref name="like"/>, drawn on the CPU from the generator (same on every device).</summary>
    static Tensor Normal(Tensor like, Generator generator)
    {
        var eps = empty(like.shape, dtype: like.dtype, device: like.device);
        SeededDraws.FillNormal(eps, 0, 1, generator);
        return eps;
    }

    /// <summary>Fraction of non-pad tokens whose argmax under <paramref name="logits"/> is the token ([] float64).</summary>
    static Tensor TokenAccuracy(Tensor logits, Tensor tokens, Tensor keep) =>
        CorrectTokens(logits, tokens, keep) / keep.sum().clamp_min(1).to(ScalarType.Float64);

    /// <summary>Number of non-pad tokens whose argmax under <paramref name="logits"/> is the token ([] float64).</summary>
    static Tensor CorrectTokens(Tensor logits, Tensor tokens, Tensor keep) =>
        ((logits.argmax(-1) == tokens) & keep).sum().to(ScalarType.Float64);

    public void Dispose()
    {
        _adaptive?.Dispose();
        _modules.Dispose();
    }
}

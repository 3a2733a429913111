using OpenDllm.Attention;
using OpenDllm.Sampling.Transfer;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Sampling;

/// <summary>Dream / Open-dCoder decoding algorithms (SPEC §5.2).</summary>
public enum UnmaskingAlgorithm
{
    /// <summary>Random order, MDLM ancestral: each masked position is revealed with probability 1 − s/t.</summary>
    Origin,
    /// <summary>Reveal the k most confident masked positions (probability of the chosen token).</summary>
    MaskGitPlus,
    /// <summary>Confidence = p₁ − p₂.</summary>
    TopKMargin,
    /// <summary>Confidence = −H(p).</summary>
    Entropy,
    /// <summary>Path-planning P2: may re-mask tokens it decoded earlier; runs all steps.</summary>
    P2,
}

/// <summary>How many tokens a step reveals.</summary>
public enum QuotaRule
{
    /// <summary>k = ⌊n_masked · (1 − s/t)⌋ over float32 timesteps linspace(1, ε, steps+1), all that is left at the last step (Dream).</summary>
    Dream,
    /// <summary>The same number every step: ⌊N/steps⌋, the remainder over the first steps (the reference's "uniform").</summary>
    Uniform,
}

/// <summary>Options of <see cref="MaskedDiffusionSampler"/>. Defaults follow Open-dLLM except <see cref="Algorithm"/>.</summary>
public sealed record MaskedDiffusionOptions
{
    public UnmaskingAlgorithm Algorithm { get; init; } = UnmaskingAlgorithm.MaskGitPlus;
    public int Steps { get; init; } = 128;
    public double Temperature { get; init; }
    public double? TopP { get; init; }
    public int? TopK { get; init; }
    /// <summary>0: take the top-k confidences; &gt; 0: sample k positions by Gumbel-top-k on conf / alg_temp (per row).</summary>
    public double AlgTemp { get; init; }
    public double Eps { get; init; } = 1e-3;
    public QuotaRule Quota { get; init; } = QuotaRule.Dream;
    /// <summary>Skip steps whose quota is 0 in every row: no forward is spent on them (SPEC §5.2 edge case).</summary>
    public bool SkipEmptySteps { get; init; } = true;
    /// <summary>Set the <c>[MASK]</c> logit to −∞ so it is never committed (SPEC §5.1).</summary>
    public bool SuppressMaskToken { get; init; } = true;
    public long Seed { get; init; }
    public bool RecordTrajectory { get; init; }

    public MaskedDiffusionOptions Validate()
    {
        if (Steps < 1) throw new ArgumentOutOfRangeException(nameof(Steps), Steps, "steps must be ≥ 1");
        if (Temperature < 0) throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "temperature must be ≥ 0");
        if (TopP is { } p && (p <= 0 || p > 1)) throw new ArgumentOutOfRangeException(nameof(TopP), p, "top_p must be in (0, 1]");
        if (Eps <= 0 || Eps >= 1) throw new ArgumentOutOfRangeException(nameof(Eps), Eps, "eps must be in (0, 1)");
        return this;
    }
}

/// <summary>
/// Confidence-based masked-diffusion decoding as in Dream and Open-dCoder (SPEC §5.2): every step runs a full
/// bidirectional forward, re-aligns shifted logits, proposes tokens at masked positions and commits a quota of them.
/// The quota is per row (Open-dLLM), not Dream's batch average (SPEC §11.7).
/// </summary>
public sealed class MaskedDiffusionSampler(MaskedDiffusionOptions? options = null) : ISampler
{
    public MaskedDiffusionOptions Options { get; } = (options ?? new MaskedDiffusionOptions()).Validate();

    /// <summary>The SPEC §5.2 name of the algorithm: origin, maskgit_plus, topk_margin, entropy or p2.</summary>
    public string Name => Options.Algorithm switch
    {
        UnmaskingAlgorithm.Origin => "origin",
        UnmaskingAlgorithm.MaskGitPlus => "maskgit_plus",
        UnmaskingAlgorithm.TopKMargin => "topk_margin",
        UnmaskingAlgorithm.Entropy => "entropy",
        _ => "p2",
    };

    public SamplerOutput Sample(IDenoiser denoiser, Canvas canvas)
    {
        using var outer = NewDisposeScope();
        var o = Options;
        var x = canvas.Tokens.clone();                                              // [B, T]
        long maskId = denoiser.MaskId;
        var fixedPositions = x.ne(maskId);                                          // prompt, suffix, padding
        if (canvas.KeyPadding is not null) fixedPositions = fixedPositions | canvas.KeyPadding.logical_not();
        SamplingGuards.RequireLeadingToken(denoiser, x, maskId);
        using var generator = new Generator((ulong)o.Seed, x.device);
        var timesteps = DreamTransferSchedule.Timesteps(o.Steps, o.Eps);             // float32, as torch.linspace
        var recorder = o.RecordTrajectory ? new TrajectoryRecorder(x, maskId) : null;
        int forwards = 0;
        var uniform = LladaTransferSchedule.Quotas((int)x.eq(maskId).sum(1).max().item<long>(), o.Steps);

        for (int i = 0; i < o.Steps; i++)
        {
            using var scope = NewDisposeScope();
            var masked = x.eq(maskId) & fixedPositions.logical_not();              // [B, T]
            var nMasked = masked.sum(1);                                            // [B]
            if (o.Algorithm != UnmaskingAlgorithm.P2 && !nMasked.any().item<bool>()) break;
            var quota = o.Algorithm == UnmaskingAlgorithm.P2 ? null : Quota(i, nMasked, timesteps, uniform);
            if (quota is not null && o.SkipEmptySteps && o.Algorithm != UnmaskingAlgorithm.Origin && !quota.any().item<bool>()) continue;

            // P2 scores every position; the others only need the masked rows ([N, V]), which saves most of the LM head
            var logits = o.Algorithm == UnmaskingAlgorithm.P2
                ? Logits(denoiser, x, canvas.KeyPadding)                                // [B, T, V]
                : MaskedRowLogits(denoiser, x, masked, canvas.KeyPadding);              // [N, V]
            forwards++;
            var before = recorder is null ? null : x.clone();
            var (next, confidence) = o.Algorithm switch
            {
                UnmaskingAlgorithm.Origin => Origin(x, masked, logits, timesteps, i, maskId, generator),
                UnmaskingAlgorithm.P2 => PathPlanning(x, fixedPositions,
                    o.SuppressMaskToken ? SamplingGuards.SuppressToken(logits, maskId) : logits, i, maskId, generator),
                _ => Confident(x, masked, logits, quota!, maskId, generator),
            };
            x.copy_(next);
            recorder?.Record(before!, x, confidence);
        }
        return new SamplerOutput(x.MoveToOuterDisposeScope(), forwards, recorder?.Build());
    }

    Tensor Logits(IDenoiser denoiser, Tensor x, Tensor? keyPadding)
    {
        var logits = denoiser.Forward(new DenoiserInput(x, AttentionPolicy.Bidirectional,
                                                        PositionIds: SamplingGuards.PositionIds(keyPadding), KeyPadding: keyPadding)).Logits;
        return denoiser.ShiftedLogits ? TokenChoice.AlignShiftedLogits(logits) : logits;
    }

    /// <summary>
    /// Logits at the masked positions only, [N, V] in row-major order: the model applies its head to those rows (for a
    /// shifted model, to the rows one to the left, whose outputs predict the masked tokens, SPEC §2.3).
    /// </summary>
    static Tensor MaskedRowLogits(IDenoiser denoiser, Tensor x, Tensor masked, Tensor? keyPadding)
    {
        var rows = denoiser.ShiftedLogits
            ? cat([masked.narrow(1, 1, masked.shape[1] - 1), zeros(masked.shape[0], 1, dtype: ScalarType.Bool, device: masked.device)], 1)
            : masked;
        return denoiser.Forward(new DenoiserInput(x, AttentionPolicy.Bidirectional, PositionIds: SamplingGuards.PositionIds(keyPadding),
                                                  KeyPadding: keyPadding, OutputPositions: rows)).Logits;
    }

    /// <summary>Tokens to reveal per row at step i [B] (SPEC §5.2): the Dream floor rule on each row's remaining masks,
    /// or the uniform split of the reference (LLaDA's even split of the initial count, clamped to what is left).</summary>
    Tensor Quota(int i, Tensor nMasked, float[] timesteps, int[] uniform)
    {
        if (i == Options.Steps - 1) return nMasked;
        var remaining = nMasked.data<long>().ToArray();
        var k = Options.Quota == QuotaRule.Dream
            ? remaining.Select(n => (long)DreamTransferSchedule.FloorQuota((int)n, timesteps[i], timesteps[i + 1])).ToArray()
            : remaining.Select(n => Math.Min(n, uniform[i])).ToArray();
        return tensor(k, device: nMasked.device);
    }

    (Tensor, Tensor) Confident(Tensor x, Tensor masked, Tensor logits, Tensor quota, long maskId, Generator generator)
    {
        var o = Options;
        var kind = o.Algorithm switch
        {
            UnmaskingAlgorithm.TopKMargin => ConfidenceKind.Margin,
            UnmaskingAlgorithm.Entropy => ConfidenceKind.NegativeEntropy,
            _ => ConfidenceKind.Probability,
        };
        var (conf, proposal) = ProposeAtMasks(x, masked, logits, kind, maskId, generator);   // [B, T] each, −∞ off the masks
        var chosen = SamplingGuards.SelectPerRow(conf, quota, o.AlgTemp, generator);               // [B, T] bool
        return (where(chosen, proposal, x), conf);
    }

    (Tensor, Tensor) Origin(Tensor x, Tensor masked, Tensor logits, float[] timesteps, int i, long maskId, Generator generator)
    {
        var (conf, proposal) = ProposeAtMasks(x, masked, logits, ConfidenceKind.Probability, maskId, generator);
        double p = i == Options.Steps - 1 ? 1.0 : 1 - timesteps[i + 1] / timesteps[i];
        var reveal = masked & (rand(x.shape, generator: generator, device: x.device) < p);
        return (where(reveal, proposal, x), conf);
    }

    /// <summary>
    /// P2 (SPEC §5.2): κ = (i+1)/steps; the ⌊#free·(1−κ)⌋ least confident free positions are (re-)masked, masked positions
    /// not selected take their proposal, decoded ones keep their token. Confidence of a decoded position is the model's
    /// probability of its current token (our reading: the spec leaves it open); of a masked one, that of its proposal.
    /// </summary>
    (Tensor, Tensor) PathPlanning(Tensor x, Tensor fixedPositions, Tensor logits, int i, long maskId, Generator generator)
    {
        var o = Options;
        var (conf, proposal) = Propose(logits, ConfidenceKind.Probability, generator);
        var probs = TokenChoice.Filter(logits, o.Temperature, o.TopP, o.TopK).to(ScalarType.Float32).softmax(-1);
        var current = probs.gather(-1, x.clamp_max(logits.shape[^1] - 1).unsqueeze(-1)).squeeze(-1);
        var masked = x.eq(maskId);
        conf = where(masked, conf, current).masked_fill(fixedPositions, double.PositiveInfinity);
        double kappa = (i + 1) / (double)o.Steps;
        var free = fixedPositions.logical_not().sum(1);                              // [B]
        var nRemask = (free.to(ScalarType.Float64) * (1 - kappa)).floor().to(ScalarType.Int64);
        var remask = SamplingGuards.SelectPerRow(conf.neg(), nRemask, 0, generator);               // lowest confidence
        var decoded = where(masked, proposal, x);
        return (where(remask, full_like(x, maskId), decoded), conf);
    }

    /// <summary>
    /// Proposals and confidences at the masked positions only (as the reference scores <c>logits[mask_index]</c>), from the
    /// [N, V] logits of those rows, so filtering and softmax never touch fixed positions. Elsewhere: confidence −∞, token unchanged.
    /// </summary>
    (Tensor Confidence, Tensor Proposal) ProposeAtMasks(Tensor x, Tensor masked, Tensor logits, ConfidenceKind kind, long maskId,
                                                        Generator generator)
    {
        var rows = logits;                                                          // [N, V]: fresh from the model, edited in place
        if (Options.SuppressMaskToken && maskId < rows.shape[^1]) rows.select(-1, maskId).fill_(double.NegativeInfinity);
        var (c, token) = TokenChoice.Choose(rows, Options.Temperature, Options.TopP, Options.TopK, kind, generator);
        var conf = full(x.shape, double.NegativeInfinity, dtype: ScalarType.Float32, device: x.device).masked_scatter(masked, c.to(ScalarType.Float32));
        var proposal = x.masked_scatter(masked, token);
        return (conf, proposal);
    }

    (Tensor Confidence, Tensor Proposal) Propose(Tensor logits, ConfidenceKind kind, Generator generator)
    {
        long b = logits.shape[0], t = logits.shape[1], v = logits.shape[2];
        var (conf, token) = TokenChoice.Choose(logits.reshape(b * t, v), Options.Temperature, Options.TopP, Options.TopK, kind, generator);
        return (conf.reshape(b, t), token.reshape(b, t));
    }
}

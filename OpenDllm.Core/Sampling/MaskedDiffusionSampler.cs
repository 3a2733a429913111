using OpenDllm.Attention;
using OpenDllm.Runtime;
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
    /// <summary>Path-planning P2: scores every position by a fresh sample and may re-mask tokens it decoded earlier;
    /// stops once nothing is masked (Open-dLLM after its issue #7 fix).</summary>
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
    /// <summary>0: take the top-k confidences; &gt; 0: sample k positions by Gumbel-top-k on conf / alg_temp (per row).
    /// maskgit_plus, topk_margin and entropy only (origin and p2 refuse a non-zero value).</summary>
    public double AlgTemp { get; init; }
    public double Eps { get; init; } = 1e-3;
    public QuotaRule Quota { get; init; } = QuotaRule.Dream;
    /// <summary>Skip steps whose quota is 0 in every row: no forward is spent on them (SPEC §5.2 edge case).</summary>
    public bool SkipEmptySteps { get; init; } = true;
    /// <summary>Set the <c>[MASK]</c> logit to −∞ so it is never committed (SPEC §5.1).</summary>
    public bool SuppressMaskToken { get; init; } = true;
    public long Seed { get; init; }
    public bool RecordTrajectory { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option and its value.</summary>
    public MaskedDiffusionOptions Validate()
    {
        SamplerOptionChecks.Positive("steps", Steps);
        SamplerOptionChecks.Temperature(Temperature);
        SamplerOptionChecks.TopP(TopP);
        SamplerOptionChecks.TopK(TopK);
        SamplerOptionChecks.AlgTemp(AlgTemp);
        if (AlgTemp != 0 && Algorithm is UnmaskingAlgorithm.Origin or UnmaskingAlgorithm.P2)
            throw new ArgumentException($"alg_temp = {SamplerOptionChecks.Show(AlgTemp)} is not used by {Algorithm.ToString().ToLowerInvariant()} (only by maskgit_plus, topk_margin and entropy); leave it 0");
        if (!(Eps > 0 && Eps < 1)) throw new ArgumentException($"eps must be in (0, 1), got {SamplerOptionChecks.Show(Eps)}");
        return this;
    }
}

/// <summary>
/// Confidence-based masked-diffusion decoding as in Dream and Open-dCoder (SPEC §5.2): every step runs a full
/// bidirectional forward, re-aligns shifted logits, proposes tokens at masked positions and commits a quota of them.
/// The quota is per row (Open-dLLM), not Dream's batch average (SPEC §11.7). Works on any device: the canvas stays where
/// it is, each step copies one [B] count vector to the host, and random draws follow <see cref="SeededDraws"/>.
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
        var free = fixedPositions.logical_not();                                    // [B, T]: the positions to decode
        SamplingGuards.RequireLeadingToken(denoiser, x, maskId);
        using var generator = SeededDraws.ForSeed(o.Seed);
        var timesteps = DreamTransferSchedule.Timesteps(o.Steps, o.Eps);             // float32, as torch.linspace
        var recorder = o.RecordTrajectory ? new TrajectoryRecorder(x, maskId) : null;
        int forwards = 0;
        var freeCount = SamplingGuards.HostLongs(free.sum(1));                      // [B] on the host, once
        var uniform = LladaTransferSchedule.Quotas(freeCount.Select(n => (int)n).ToArray(), o.Steps);   // [B][steps]: per row

        for (int i = 0; i < o.Steps; i++)
        {
            using var scope = NewDisposeScope();
            var masked = x.eq(maskId) & free;                                      // [B, T]
            var nMasked = SamplingGuards.HostLongs(masked.sum(1));                  // [B]: the step's one host read
            if (nMasked.All(n => n == 0)) break;                                    // every algorithm, p2 included (upstream)
            Tensor next, confidence;
            if (o.Algorithm == UnmaskingAlgorithm.P2)
            {
                var logits = Logits(denoiser, x, canvas.KeyPadding);                    // [B, T, V]: p2 scores every position
                if (o.SuppressMaskToken) logits = SamplingGuards.SuppressToken(logits, maskId);
                forwards++;
                (next, confidence) = PathPlanning(x, masked, fixedPositions, logits,
                                                  PathPlanningSchedule.RemaskCounts(freeCount, i, o.Steps), maskId, generator);
            }
            else
            {
                var quota = Quota(i, nMasked, timesteps, uniform);                      // [B] on the host
                if (o.SkipEmptySteps && o.Algorithm != UnmaskingAlgorithm.Origin && quota.All(k => k == 0)) continue;
                var logits = MaskedRowLogits(denoiser, x, masked, canvas.KeyPadding);  // [N, V]: only the masked rows
                forwards++;
                (next, confidence) = o.Algorithm == UnmaskingAlgorithm.Origin
                    ? Origin(x, masked, logits, timesteps, i, maskId, generator)
                    : Confident(x, masked, logits, quota, maskId, generator);
            }
            var before = recorder is null ? null : x.clone();
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

    /// <summary>Tokens to reveal per row at step i (SPEC §5.2), from the host counts of masks left: the Dream floor rule
    /// on each row's remaining masks, or the uniform split of the reference (LLaDA's even split of the row's initial count,
    /// clamped to what is left); everything left at the last step. Each row's quota depends on that row alone, so a
    /// ragged batch decodes every row as it would decode alone.</summary>
    long[] Quota(int i, long[] nMasked, float[] timesteps, int[][] uniform)
    {
        if (i == Options.Steps - 1) return nMasked;
        return Options.Quota == QuotaRule.Dream
            ? nMasked.Select(n => (long)DreamTransferSchedule.FloorQuota((int)n, timesteps[i], timesteps[i + 1])).ToArray()
            : nMasked.Select((n, r) => Math.Min(n, uniform[r][i])).ToArray();
    }

    (Tensor, Tensor) Confident(Tensor x, Tensor masked, Tensor logits, long[] quota, long maskId, Generator generator)
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
        var reveal = masked & (SeededDraws.Uniform(x.shape, generator, x.device, ScalarType.Float32) < p);
        return (where(reveal, proposal, x), conf);
    }

    /// <summary>
    /// P2 path planning (SPEC §5.2) as Open-dLLM computes it since the fix of its issue #7 (PR #12): every position gets a
    /// fresh proposal x0 and confidence c = p(x0) (after temperature / top-p / top-k); fixed positions (prompt, suffix,
    /// padding) get c = +∞; the n_remask = ⌊#free·(1 − κ_i)⌋ lowest (<see cref="PathPlanningSchedule"/>) become [MASK],
    /// which can re-mask tokens decoded earlier; masked positions not chosen take x0; decoded positions not chosen keep
    /// their token (not x0). A decoded position is thus scored by its new sample, not by the probability of the token it
    /// holds (the reading OpenDllm used before the upstream fix). The caller stops once nothing is masked.
    /// Returns the next canvas and the confidences [B, T].
    /// </summary>
    (Tensor, Tensor) PathPlanning(Tensor x, Tensor masked, Tensor fixedPositions, Tensor logits, long[] nRemask, long maskId,
                                  Generator generator)
    {
        var (conf, proposal) = Propose(logits, ConfidenceKind.Probability, generator);            // [B, T] each
        conf = conf.masked_fill(fixedPositions, ScalarOps.PositiveInfinity);
        var remask = SamplingGuards.SelectLowest(conf, nRemask);                                  // [B, T] bool
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
        if (Options.SuppressMaskToken) SamplingGuards.SuppressTokenInPlace(rows, maskId);
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

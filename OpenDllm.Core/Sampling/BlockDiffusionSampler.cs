using OpenDllm.Attention;
using OpenDllm.Models;
using OpenDllm.Sampling.Transfer;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Sampling;

/// <summary>Options of <see cref="BlockDiffusionSampler"/> (dllm <c>BD3LMSampler</c>, SPEC §4.3).</summary>
public sealed record BlockDiffusionOptions
{
    /// <summary>b: the block size the model was trained with (dllm default 32).</summary>
    public int BlockSize { get; init; } = 32;
    /// <summary>Total denoising steps; each block gets ⌈steps / #blocks⌉.</summary>
    public int Steps { get; init; } = 128;
    /// <summary>Gumbel-max temperature of the proposal (0 = argmax).</summary>
    public double Temperature { get; init; }
    public RemaskingStrategy Remasking { get; init; } = RemaskingStrategy.LowConfidence;
    /// <summary>Quota over a block's masks: <see cref="QuotaRule.Uniform"/> = LLaDA's even split (default), or Dream's floor rule.</summary>
    public QuotaRule Transfer { get; init; } = QuotaRule.Uniform;
    /// <summary>Keep the keys/values of finished blocks (default) and feed only the current block per step; false = a full
    /// block-causal forward over prefix + block every step. Both give identical tokens.</summary>
    public bool UseCache { get; init; } = true;
    /// <summary>The EOS id; with <see cref="StopAtEos"/>, a row whose finished block holds it stops and the rest is EOS.</summary>
    public long? EosId { get; init; }
    public bool StopAtEos { get; init; } = true;
    /// <summary>Fills the left padding that aligns the prompt to a multiple of b (excluded by the key-padding mask).</summary>
    public long PadId { get; init; }
    /// <summary>Skip steps whose quota is 0 in every row: no forward is spent on them.</summary>
    public bool SkipEmptySteps { get; init; } = true;
    /// <summary>Set the <c>[MASK]</c> logit to −∞ so it is never committed (SPEC §5.1).</summary>
    public bool SuppressMaskToken { get; init; } = true;
    public long Seed { get; init; }
    public bool RecordTrajectory { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option and its value.</summary>
    public BlockDiffusionOptions Validate()
    {
        SamplerOptionChecks.Positive("block_size", BlockSize);
        SamplerOptionChecks.Positive("steps", Steps);
        SamplerOptionChecks.Temperature(Temperature);
        return this;
    }
}

/// <summary>
/// Block diffusion (BD3LM) decoding as dllm's <c>BD3LMSampler</c> does it (SPEC §4.3): the canvas is prompt + masks;
/// the prompt part is left-padded to a multiple of b so that blocks align with the block-causal attention
/// (<see cref="AttentionPolicy.BlockCausal"/>); blocks of b masks are decoded left to right, each in ⌈steps/#blocks⌉
/// steps that commit a transfer-schedule quota of the most confident (or random) masked positions.
/// With the cache, the prefix runs once per block (then each finished block extends it) and a step feeds only the
/// block's tokens against the cache; without it, every step runs prefix + block block-causally. Keys of earlier blocks
/// never see later ones, so the cache is exact and both modes give the same tokens. A shorter last block is allowed.
/// </summary>
public sealed class BlockDiffusionSampler(BlockDiffusionOptions? options = null) : ISampler
{
    public BlockDiffusionOptions Options { get; } = (options ?? new BlockDiffusionOptions()).Validate();

    /// <summary>The <see cref="SamplerFactory"/> name: block (KV cache) or block-nocache. Remasking and the quota rule,
    /// which only a directly built sampler sets, are in <see cref="Options"/>, not in the name.</summary>
    public string Name => Options.UseCache ? "block" : "block-nocache";

    public SamplerOutput Sample(IDenoiser denoiser, Canvas canvas)
    {
        using var outer = NewDisposeScope();
        var o = Options;
        long maskId = denoiser.MaskId, width = canvas.Tokens.shape[1], rows = canvas.Tokens.shape[0];
        var recorder = o.RecordTrajectory ? new TrajectoryRecorder(canvas.Tokens, maskId) : null;
        long start = GenerationStart(canvas.Tokens, maskId);
        if (start == width) return new SamplerOutput(canvas.Tokens.clone().MoveToOuterDisposeScope(), 0, recorder?.Build());
        if (start == 0 && denoiser.ShiftedLogits)
            throw new ArgumentException("a shifted (AR-initialised) model needs a non-mask first token in every row (a prompt or BOS)");

        // 1. left-pad prompt to a multiple of b; positions skip every padding token          [B, T']
        int b = o.BlockSize;
        long extra = (b - start % b) % b, prefix = start + extra;
        var device = canvas.Tokens.device;
        var x = cat([full(rows, extra, o.PadId, dtype: ScalarType.Int64, device: device), canvas.Tokens], 1);
        var real = cat([zeros(rows, extra, dtype: ScalarType.Bool, device: device),
                        canvas.KeyPadding?.to(ScalarType.Bool) ?? ones_like(canvas.Tokens, dtype: ScalarType.Bool)], 1);
        var positions = (real.to(ScalarType.Int64).cumsum(1) - 1).clamp_min(0);
        long total = x.shape[1];
        int blocks = (int)((total - prefix + b - 1) / b), stepsPerBlock = (o.Steps + blocks - 1) / blocks;
        using var generator = SeededDraws.ForSeed(o.Seed);
        var done = zeros(rows, dtype: ScalarType.Bool, device: device);
        int forwards = 0;
        KvCache? cache = null;
        try
        {
            for (int blk = 0; blk < blocks && !done.all().item<bool>(); blk++)
            {
                using var blockScope = NewDisposeScope();
                long s = prefix + (long)blk * b, len = Math.Min(b, total - s), e = s + len;
                // 2. (cache) run the prefix once, or extend the cache by the block finished last; keep the last logits
                Tensor? lastPrefixLogits = null;                                                      // [B, V]
                if (o.UseCache && s > 0)
                {
                    long from = cache?.Length ?? 0;
                    var output = denoiser.Forward(new DenoiserInput(x.narrow(1, from, s - from), AttentionPolicy.BlockCausal(b),
                        PositionIds: positions.narrow(1, from, s - from), KeyPadding: real.narrow(1, 0, s), Cache: cache, ReturnCache: true));
                    forwards++;
                    cache?.Dispose();
                    cache = output.Cache!.DetachFromDisposeScope();
                    lastPrefixLogits = output.Logits.select(1, -1);
                }

                // 3. per-row quotas over the block's masks                                          [B][steps_b]
                var counts = SamplingGuards.HostLongs(x.narrow(1, s, len).eq(maskId).sum(1)).Select(n => (int)n).ToArray();
                var quotas = counts.Select(n => o.Transfer == QuotaRule.Dream
                    ? DreamTransferSchedule.Quotas(n, stepsPerBlock) : LladaTransferSchedule.Quotas(n, stepsPerBlock)).ToArray();
                int last = o.SkipEmptySteps ? Enumerable.Range(0, stepsPerBlock).LastOrDefault(i => quotas.Any(q => q[i] > 0)) : stepsPerBlock - 1;
                for (int i = 0; i <= last; i++)
                {
                    using var scope = NewDisposeScope();
                    var k = quotas.Select(q => (long)q[i]).ToArray();
                    if (o.SkipEmptySteps && k.All(q => q == 0)) continue;
                    var logits = BlockLogits(denoiser, x, real, positions, s, e, cache, lastPrefixLogits);     // [B, len, V]
                    forwards++;
                    var block = x.narrow(1, s, len);
                    var (proposal, confidence, rank) = LladaSampler.ProposeTokens(logits, block.eq(maskId), o.Temperature,
                                                                                  o.Remasking, generator, []);
                    var chosen = SamplingGuards.SelectPerRow(rank, k, 0, generator);
                    var before = recorder is null ? null : x.narrow(1, extra, width).clone();
                    block.copy_(where(chosen, proposal, block));
                    if (i == last) StopFinishedRows(x, done, s, e);
                    recorder?.Record(before!, x.narrow(1, extra, width), LladaSampler.Widen(confidence, before!, s - extra));
                }
            }
        }
        finally { cache?.Dispose(); }
        return new SamplerOutput(x.narrow(1, extra, width).clone().MoveToOuterDisposeScope(), forwards, recorder?.Build());
    }

    /// <summary>First column of the generation region; every row must be masks from there on and nowhere before.</summary>
    static long GenerationStart(Tensor tokens, long maskId)
    {
        var masked = tokens.eq(maskId);                                                           // [B, T]
        var columns = masked.any(0);
        if (!columns.any().item<bool>()) return tokens.shape[1];
        long start = columns.to(ScalarType.Int64).argmax().item<long>();
        if (!masked.narrow(1, start, tokens.shape[1] - start).all().item<bool>())
            throw new ArgumentException("the block diffusion sampler needs prompt + masks: every row masked from the first masked column on");
        return start;
    }

    /// <summary>
    /// Logits of the block's rows [B, len, V], re-aligned for shifted models: with the cache, the block is fed alone against
    /// the prefix cache with bidirectional attention (its queries may see prefix + block) and row 0 takes the last prefix
    /// logits; without it, prefix + block run block-causally and the block's rows are read (shifted: one column earlier).
    /// </summary>
    Tensor BlockLogits(IDenoiser denoiser, Tensor x, Tensor real, Tensor positions, long s, long e, KvCache? cache, Tensor? lastPrefixLogits)
    {
        long len = e - s;
        Tensor logits;
        if (Options.UseCache)
        {
            logits = denoiser.Forward(new DenoiserInput(x.narrow(1, s, len), AttentionPolicy.Bidirectional,
                PositionIds: positions.narrow(1, s, len), KeyPadding: real.narrow(1, 0, e), Cache: cache)).Logits;
            if (denoiser.ShiftedLogits) logits = cat([lastPrefixLogits!.unsqueeze(1), logits.narrow(1, 0, len - 1)], 1);
        }
        else
        {
            var all = denoiser.Forward(new DenoiserInput(x.narrow(1, 0, e), AttentionPolicy.BlockCausal(Options.BlockSize),
                PositionIds: positions.narrow(1, 0, e), KeyPadding: real.narrow(1, 0, e))).Logits;      // [B, e, V]
            logits = all.narrow(1, denoiser.ShiftedLogits ? s - 1 : s, len);
        }
        return Options.SuppressMaskToken ? SamplingGuards.SuppressToken(logits, denoiser.MaskId) : logits;
    }

    /// <summary>Rows whose finished block [s, e) holds EOS stop: every later column becomes EOS (dllm's per-row <c>done</c>).</summary>
    void StopFinishedRows(Tensor x, Tensor done, long s, long e)
    {
        if (Options.EosId is not { } eos || !Options.StopAtEos) return;
        done.bitwise_or_(x.narrow(1, s, e - s).eq(eos).any(1));
        if (e == x.shape[1]) return;
        var rest = x.narrow(1, e, x.shape[1] - e);
        rest.copy_(where(done.unsqueeze(1), full_like(rest, eos), rest));
    }
}

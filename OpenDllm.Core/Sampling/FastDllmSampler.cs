using OpenDllm.Attention;
using OpenDllm.Models;
using OpenDllm.Sampling.Transfer;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Sampling;

/// <summary>Which KV cache Fast-dLLM keeps (SPEC §5.4).</summary>
public enum FastDllmCache
{
    /// <summary>A full forward every step.</summary>
    None,
    /// <summary>Keys/values of the positions before the block, refreshed at each block start; the block and everything after it are re-fed.</summary>
    Prefix,
    /// <summary>Keys/values of every position, refreshed at each block start; only the block is re-fed (its entries recomputed).</summary>
    Dual,
    /// <summary>dKV-Cache-Decode (<see cref="DelayedKvCache"/>): keys/values of every column; each step re-feeds the masked
    /// columns and the ones decoded at the previous step (so a token is cached one step after it is decoded); a full forward
    /// every <see cref="FastDllmOptions.RefreshInterval"/> steps.</summary>
    Delayed,
}

/// <summary>Options of <see cref="FastDllmSampler"/> (defaults of Fast-dLLM: block 32, τ = 0.9).</summary>
public sealed record FastDllmOptions
{
    public int BlockLength { get; init; } = 32;
    /// <summary>Accept every candidate with confidence ≥ τ (the best one always). Ignored when <see cref="Factor"/> is set.</summary>
    public double Threshold { get; init; } = FastDllmAcceptance.DefaultThreshold;
    /// <summary>Factor rule: accept the longest prefix of sorted confidences with (r+1)(1 − c(r)) ≤ f (has priority).</summary>
    public double? Factor { get; init; }
    public FastDllmCache Cache { get; init; } = FastDllmCache.Dual;
    /// <summary>
    /// <see cref="FastDllmCache.Delayed"/> only: a full forward (which refreshes every cached key/value) every this many
    /// steps, counted over the whole sample (not per block); 1 = a full forward every step (the uncached sampler).
    /// </summary>
    public int RefreshInterval { get; init; } = DefaultRefreshInterval;
    /// <summary>The default <see cref="RefreshInterval"/>: our choice, not the paper's (see README, bench samplers).</summary>
    public const int DefaultRefreshInterval = 8;
    public double Temperature { get; init; }
    public double? TopP { get; init; }
    public int? TopK { get; init; }
    public bool SuppressMaskToken { get; init; } = true;
    public long Seed { get; init; }
    public bool RecordTrajectory { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option and its value.</summary>
    public FastDllmOptions Validate()
    {
        SamplerOptionChecks.Positive("block_length", BlockLength);
        SamplerOptionChecks.Positive("refresh_interval", RefreshInterval);
        if (Cache != FastDllmCache.Delayed && RefreshInterval != DefaultRefreshInterval)
            throw new ArgumentException($"refresh_interval = {RefreshInterval} is used only by the delayed (dKV) cache, not by the {Cache} cache; leave it unset");
        SamplerOptionChecks.Threshold(Threshold);
        SamplerOptionChecks.Factor(Factor);
        SamplerOptionChecks.Temperature(Temperature);
        SamplerOptionChecks.TopP(TopP);
        SamplerOptionChecks.TopK(TopK);
        return this;
    }
}

/// <summary>
/// Fast-dLLM parallel decoding (Wu et al. 2025, <see href="https://arxiv.org/abs/2505.22618"/>; SPEC §5.4): the masked span is
/// decoded block by block, left to right; inside a block every step accepts all masked positions whose confidence passes
/// the threshold (or factor) rule, so a step can commit many tokens. With a prefix or dual cache the keys/values outside
/// the block are computed once per block. Positions and shifted logits are handled explicitly: the cache stores post-RoPE
/// keys and every fed segment gets its absolute positions. For a model with more than one layer the caches are Fast-dLLM's
/// approximation (hidden states outside the block are frozen while the block changes); with one layer they are exact.
/// The delayed cache (<see cref="FastDllmCache.Delayed"/>, dKV-Cache-Decode, <see cref="DelayedKvCache"/>) is not from
/// Fast-dLLM: SPEC §5.4 covers only the prefix and dual caches, so these choices are ours — it runs inside Fast-dLLM's block
/// loop and acceptance rule (so the caches differ only in what they recompute), its refresh counts steps over the whole
/// sample instead of refreshing at each block start, and masked columns of later blocks are recomputed every step.
/// </summary>
public sealed class FastDllmSampler(FastDllmOptions? options = null) : ISampler
{
    public FastDllmOptions Options { get; } = (options ?? new FastDllmOptions()).Validate();

    /// <summary>The <see cref="SamplerFactory"/> name of the cache: fast-dllm-dual, fast-dllm-prefix, fast-dllm-dkv or fast-dllm-nocache.</summary>
    public string Name => Options.Cache switch
    {
        FastDllmCache.Dual => "fast-dllm-dual",
        FastDllmCache.Delayed => "fast-dllm-dkv",
        FastDllmCache.Prefix => "fast-dllm-prefix",
        _ => "fast-dllm-nocache",
    };

    public SamplerOutput Sample(IDenoiser denoiser, Canvas canvas)
    {
        using var outer = NewDisposeScope();
        var o = Options;
        var x = canvas.Tokens.clone();
        long maskId = denoiser.MaskId, width = x.shape[1];
        SamplingGuards.RequireLeadingToken(denoiser, x, maskId);
        var columns = SamplingGuards.HostLongs(x.eq(maskId).any(0).nonzero().squeeze(1));   // masked columns, on the host once
        var recorder = o.RecordTrajectory ? new TrajectoryRecorder(x, maskId) : null;
        if (columns.Length == 0) return new SamplerOutput(x.MoveToOuterDisposeScope(), 0, recorder?.Build());
        long first = columns[0], last = columns[^1] + 1;
        var positions = SamplingGuards.PositionIds(canvas.KeyPadding) ?? arange(width, device: x.device).unsqueeze(0).expand(x.shape[0], -1);
        using var generator = SeededDraws.ForSeed(o.Seed);
        int shift = denoiser.ShiftedLogits ? 1 : 0;
        int forwards = 0;
        bool delayed = o.Cache == FastDllmCache.Delayed;
        using var dkv = delayed ? new DelayedKvCache() : null;

        for (long s = first; s < last; s += o.BlockLength)
        {
            long e = Math.Min(s + o.BlockLength, last);
            long fedStart = s - shift;                                                   // shifted: position p reads output p − 1
            KvCache? cache = null;
            bool refresh = true;
            while (x.narrow(1, s, e - s).eq(maskId).any().item<bool>())
            {
                using var scope = NewDisposeScope();
                Tensor blockLogits;                                                      // [B, e − s, V]
                if (delayed ? forwards % o.RefreshInterval == 0 : refresh || o.Cache == FastDllmCache.None)
                {
                    var full = denoiser.Forward(new DenoiserInput(x, AttentionPolicy.Bidirectional, positions, canvas.KeyPadding,
                        ReturnCache: o.Cache != FastDllmCache.None, OutputPositions: Columns(x, width, fedStart, e - s)));
                    blockLogits = full.Logits.reshape(x.shape[0], e - s, -1);
                    if (delayed)
                    {
                        dkv!.Refresh(full.Cache!);
                        full.Cache!.Dispose();
                    }
                    else if (full.Cache is not null)
                    {
                        var kept = o.Cache == FastDllmCache.Prefix ? full.Cache.Truncate(fedStart) : full.Cache;
                        cache = kept.DetachFromDisposeScope();   // the dual cache keeps every position; disposed after the block
                        if (!ReferenceEquals(kept, full.Cache)) full.Cache.Dispose();
                    }
                    refresh = false;
                }
                else if (delayed)
                    blockLogits = dkv!.Step(denoiser, x, positions, canvas.KeyPadding, fedStart, e - s);
                else
                {
                    long fedEnd = o.Cache == FastDllmCache.Prefix ? width : e;
                    var output = denoiser.Forward(new DenoiserInput(x.narrow(1, fedStart, fedEnd - fedStart), AttentionPolicy.Bidirectional,
                        positions.narrow(1, fedStart, fedEnd - fedStart), canvas.KeyPadding, cache, CacheOffset: fedStart,
                        OutputPositions: Columns(x, fedEnd - fedStart, 0, e - s)));
                    blockLogits = output.Logits.reshape(x.shape[0], e - s, -1);
                }
                forwards++;
                if (o.SuppressMaskToken) blockLogits = SamplingGuards.SuppressToken(blockLogits, maskId);
                dkv?.BeforeCommit(x, maskId);
                var before = recorder is null ? null : x.clone();
                var confidence = DecodeBlock(x, s, e, blockLogits, maskId, generator);
                recorder?.Record(before!, x, confidence);
            }
            cache?.Dispose();
        }
        return new SamplerOutput(x.MoveToOuterDisposeScope(), forwards, recorder?.Build());
    }

    /// <summary>[B, width] bool, true at columns [from, from + count): the rows whose logits the block needs (the LM head
    /// then runs on those only).</summary>
    static Tensor Columns(Tensor x, long width, long from, long count)
    {
        var selected = zeros(x.shape[0], width, dtype: ScalarType.Bool, device: x.device);
        selected.narrow(1, from, count).fill_(true);
        return selected;
    }

    /// <summary>Proposes tokens for the block's masks, applies the acceptance rule per row and commits in place.</summary>
    Tensor DecodeBlock(Tensor x, long s, long e, Tensor logits, long maskId, Generator generator)
    {
        long b = logits.shape[0], n = logits.shape[1], v = logits.shape[2];
        var (conf, token) = TokenChoice.Choose(logits.reshape(b * n, v), Options.Temperature, Options.TopP, Options.TopK,
                                               ConfidenceKind.Probability, generator);
        var block = x.narrow(1, s, n);
        var candidates = block.eq(maskId);
        var score = conf.reshape(b, n).to(ScalarType.Float64).masked_fill(candidates.logical_not(), double.NegativeInfinity);
        var accept = Options.Factor is { } f ? FastDllmAcceptance.FactorMask(score, f) : FastDllmAcceptance.ThresholdMask(score, Options.Threshold);
        block.copy_(where(accept & candidates, token.reshape(b, n), block));
        var full = zeros(x.shape, dtype: ScalarType.Float32, device: x.device);
        full.narrow(1, s, n).copy_(conf.reshape(b, n));
        return full;
    }
}

using OpenDllm.Attention;
using OpenDllm.Models;
using OpenDllm.Runtime;
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
    /// steps, counted per row over the whole sample (not per block; a row of a batch that waits for the others to finish a
    /// block takes no step), so a row refreshes in a batch exactly when it does alone; 1 = a full forward every step (the
    /// uncached sampler).
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
/// loop and acceptance rule (so the caches differ only in what they recompute), its refresh counts each row's steps over the
/// whole sample instead of refreshing at each block start, and masked columns of later blocks are recomputed every step.
/// Greedy decoding of a left-padded batch gives each row the tokens it gets alone with every cache, the delayed one at any
/// threshold and refresh interval included (it keeps its state and refresh schedule per row).
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
        using var dkv = delayed ? new DelayedKvCache(x.shape[0], width) : null;
        var rowSteps = new long[x.shape[0]];                                             // delayed cache: steps each row has taken

        for (long s = first; s < last; s += o.BlockLength)
        {
            long e = Math.Min(s + o.BlockLength, last);
            long fedStart = s - shift;                                                   // shifted: position p reads output p − 1
            KvCache? cache = null;
            bool refresh = true;
            while (true)
            {
                using var scope = NewDisposeScope();
                var stepping = SamplingGuards.HostLongs(x.narrow(1, s, e - s).eq(maskId).any(1));   // rows with masks left in the block
                if (stepping.All(m => m == 0)) break;
                Tensor blockLogits;                                                      // [B, e − s, V]
                if (delayed)
                    blockLogits = DelayedStep(denoiser, dkv!, x, positions, canvas.KeyPadding, stepping, rowSteps, fedStart, e - s, ref forwards);
                else if (refresh || o.Cache == FastDllmCache.None)
                {
                    var full = denoiser.Forward(new DenoiserInput(x, AttentionPolicy.Bidirectional, positions, canvas.KeyPadding,
                        ReturnCache: o.Cache != FastDllmCache.None, OutputPositions: Columns(x, width, fedStart, e - s)));
                    blockLogits = full.Logits.reshape(x.shape[0], e - s, -1);
                    if (full.Cache is not null)
                    {
                        var kept = o.Cache == FastDllmCache.Prefix ? full.Cache.Truncate(fedStart) : full.Cache;
                        cache = kept.DetachFromDisposeScope();   // the dual cache keeps every position; disposed after the block
                        if (!ReferenceEquals(kept, full.Cache)) full.Cache.Dispose();
                    }
                    refresh = false;
                    forwards++;
                }
                else
                {
                    long fedEnd = o.Cache == FastDllmCache.Prefix ? width : e;
                    var output = denoiser.Forward(new DenoiserInput(x.narrow(1, fedStart, fedEnd - fedStart), AttentionPolicy.Bidirectional,
                        positions.narrow(1, fedStart, fedEnd - fedStart), canvas.KeyPadding, cache, CacheOffset: fedStart,
                        OutputPositions: Columns(x, fedEnd - fedStart, 0, e - s)));
                    blockLogits = output.Logits.reshape(x.shape[0], e - s, -1);
                    forwards++;
                }
                if (o.SuppressMaskToken) blockLogits = SamplingGuards.SuppressToken(blockLogits, maskId);
                var before = recorder is null ? null : x.clone();
                var confidence = DecodeBlock(x, s, e, blockLogits, maskId, generator);
                recorder?.Record(before!, x, confidence);
            }
            cache?.Dispose();
        }
        return new SamplerOutput(x.MoveToOuterDisposeScope(), forwards, recorder?.Build());
    }

    /// <summary>
    /// One step of the delayed cache, per row (<see cref="DelayedKvCache"/>): a row that has masks left in the block
    /// (<paramref name="stepping"/>) takes a full forward when its own step count is a multiple of the refresh interval and a
    /// cached forward otherwise; a row without masks in the block (waiting for the others) takes no forward and does not
    /// count a step, so each row follows the schedule it has alone. When the stepping rows are in both modes, the two groups
    /// run as two sub-batch forwards; otherwise one. Returns the block's logits [B, n, V] (zeros for rows that did not step:
    /// they have no candidates).
    /// </summary>
    Tensor DelayedStep(IDenoiser denoiser, DelayedKvCache dkv, Tensor x, Tensor positions, Tensor? keyPadding, long[] stepping,
                       long[] rowSteps, long fedStart, long n, ref int forwards)
    {
        long b = x.shape[0], width = x.shape[1];
        var steppers = Enumerable.Range(0, (int)b).Where(r => stepping[r] != 0).ToArray();
        Tensor? logits = null;
        foreach (var refreshes in new[] { true, false })
        {
            var group = steppers.Where(r => rowSteps[r] % Options.RefreshInterval == 0 == refreshes).Select(r => (long)r).ToArray();
            if (group.Length == 0) continue;
            bool everyRow = group.Length == b;                                           // one forward over the batch, as at batch 1
            var rows = tensor(group, device: x.device);
            Tensor Pick(Tensor t) => everyRow ? t : t.index_select(0, rows);
            var sub = Pick(x);
            var subPadding = keyPadding is null ? null : Pick(keyPadding);
            Tensor part;
            if (refreshes)
            {
                var full = denoiser.Forward(new DenoiserInput(sub, AttentionPolicy.Bidirectional, Pick(positions), subPadding,
                    ReturnCache: true, OutputPositions: Columns(sub, width, fedStart, n)));
                part = full.Logits.reshape(group.Length, n, -1);
                dkv.Refresh(full.Cache!, rows);
                full.Cache!.Dispose();
            }
            else part = dkv.Step(denoiser, rows, sub, Pick(positions), subPadding, fedStart, n);
            forwards++;
            if (everyRow) logits = part;
            else
            {
                logits ??= zeros(b, n, part.shape[^1], dtype: part.dtype, device: x.device);
                logits.index_copy_(0, rows, part);
            }
        }
        dkv.BeforeCommit(x, denoiser.MaskId, tensor(steppers.Select(r => (long)r).ToArray(), device: x.device));
        foreach (var r in steppers) rowSteps[r]++;
        return logits!;
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
        var score = conf.reshape(b, n).to(ScalarType.Float64).masked_fill(candidates.logical_not(), ScalarOps.NegativeInfinity);
        var accept = Options.Factor is { } f ? FastDllmAcceptance.FactorMask(score, f) : FastDllmAcceptance.ThresholdMask(score, Options.Threshold);
        block.copy_(where(accept & candidates, token.reshape(b, n), block));
        var full = zeros(x.shape, dtype: ScalarType.Float32, device: x.device);
        full.narrow(1, s, n).copy_(conf.reshape(b, n));
        return full;
    }
}

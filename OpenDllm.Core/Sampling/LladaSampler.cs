using OpenDllm.Attention;
using OpenDllm.Runtime;
using OpenDllm.Sampling.Transfer;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Sampling;

/// <summary>Which masked positions a LLaDA-style step commits (SPEC §5.3 <c>remasking</c>).</summary>
public enum RemaskingStrategy
{
    /// <summary>The most confident: confidence = softmax(logits)[x0], without temperature (<c>low_confidence</c>).</summary>
    LowConfidence,
    /// <summary>Uniformly random: confidence ~ U(0, 1) (<c>random</c>).</summary>
    Random,
}

/// <summary>Options of <see cref="LladaSampler"/>. Defaults follow ML-GSAI/LLaDA <c>generate</c> (SPEC §5.3).</summary>
public sealed record LladaOptions
{
    /// <summary>Forwards over the whole generation region; must be a multiple of the number of blocks.</summary>
    public int Steps { get; init; } = 128;
    /// <summary>Semi-autoregressive block length; null = the generation length (one block). Must divide it.</summary>
    public int? BlockLength { get; init; }
    /// <summary>Gumbel-max temperature (0 = argmax).</summary>
    public double Temperature { get; init; }
    public RemaskingStrategy Remasking { get; init; } = RemaskingStrategy.LowConfidence;
    /// <summary>LLaDA's EOS id (126081 for LLaDA-8B); needed by <see cref="LogitsEosInf"/> and <see cref="ConfidenceEosEotInf"/>.</summary>
    public long? EosId { get; init; }
    /// <summary>LLaDA's end-of-turn id (126348 for LLaDA-8B-Instruct); optional, used by <see cref="ConfidenceEosEotInf"/>.</summary>
    public long? EotId { get; init; }
    /// <summary><c>logits_eos_inf</c>: the EOS logit is −∞, so EOS is never proposed.</summary>
    public bool LogitsEosInf { get; init; }
    /// <summary><c>confidence_eos_eot_inf</c>: positions proposing EOS/EoT rank below every other candidate (committed last).</summary>
    public bool ConfidenceEosEotInf { get; init; }
    /// <summary>Skip steps whose quota is 0 in every row (n &lt; steps per block): no forward is spent on them.</summary>
    public bool SkipEmptySteps { get; init; } = true;
    /// <summary>Set the <c>[MASK]</c> logit to −∞ so it is never committed (SPEC §5.1).</summary>
    public bool SuppressMaskToken { get; init; } = true;
    public long Seed { get; init; }
    public bool RecordTrajectory { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option and its value.</summary>
    public LladaOptions Validate()
    {
        SamplerOptionChecks.Positive("steps", Steps);
        if (BlockLength is { } b) SamplerOptionChecks.Positive("block_length", b);
        SamplerOptionChecks.Temperature(Temperature);
        if ((LogitsEosInf || ConfidenceEosEotInf) && EosId is null)
            throw new ArgumentException("logits_eos_inf / confidence_eos_eot_inf need EosId", nameof(EosId));
        return this;
    }
}

/// <summary>
/// LLaDA low-confidence remasking with semi-autoregressive blocks (SPEC §5.3, ML-GSAI/LLaDA <c>generate.py</c>).
/// The generation region is the span of columns holding a <c>[MASK]</c> in some row; it is cut into blocks of
/// <see cref="LladaOptions.BlockLength"/> decoded left to right, each in steps / #blocks steps. Every step is a full
/// bidirectional forward (the model sees the whole canvas, blocks only restrict what is committed); a row commits
/// exactly its <see cref="LladaTransferSchedule"/> quota of the block's masks, chosen by confidence inside the block.
/// Each row keeps the layout it has alone (its own generation length, number of blocks and steps per block, counted from
/// the batch's first masked column), so a ragged batch aligned at the first mask (completion or infill canvases) decodes
/// every row as alone under greedy decoding. Classifier-free guidance is not implemented.
/// </summary>
public sealed class LladaSampler(LladaOptions? options = null) : ISampler
{
    public LladaOptions Options { get; } = (options ?? new LladaOptions()).Validate();

    /// <summary>The <see cref="SamplerFactory"/> name of the remasking: llada (low confidence) or llada-random. Semi-AR
    /// blocks and the EOS rules, which only a directly built sampler sets, are in <see cref="Options"/>, not in the name.</summary>
    public string Name => Options.Remasking == RemaskingStrategy.Random ? "llada-random" : "llada";

    public SamplerOutput Sample(IDenoiser denoiser, Canvas canvas)
    {
        using var outer = NewDisposeScope();
        var o = Options;
        var x = canvas.Tokens.clone();                                              // [B, T]
        long maskId = denoiser.MaskId;
        var free = x.eq(maskId);                                                    // positions to decode
        if (canvas.KeyPadding is not null) free &= canvas.KeyPadding;
        SamplingGuards.RequireLeadingToken(denoiser, x, maskId);
        var recorder = o.RecordTrajectory ? new TrajectoryRecorder(x, maskId) : null;
        var columns = SamplingGuards.HostLongs(free.any(0));                        // [T] on the host, once
        if (columns.All(c => c == 0)) return new SamplerOutput(x.MoveToOuterDisposeScope(), 0, recorder?.Build());

        // 1. generation region [start, start + length); blocks of the batch and each row's own layout (SPEC §5.3 requirements)
        long start = Array.IndexOf(columns, 1L);
        long length = Array.LastIndexOf(columns, 1L) + 1 - start;
        var rows = RowLayouts(free, start, o.BlockLength, o.Steps);
        long blockLength = o.BlockLength ?? length;
        int blocks = (int)((length + blockLength - 1) / blockLength);
        using var generator = SeededDraws.ForSeed(o.Seed);
        int forwards = 0;

        for (int blk = 0; blk < blocks; blk++)
        {
            long s = start + blk * blockLength;
            long width = Math.Min(blockLength, start + length - s);
            // 2. per-row quotas over the block's masks in the row's own steps per block, exact per row    [B][steps_b]
            var counts = SamplingGuards.HostLongs(free.narrow(1, s, width).sum(1)).Select(n => (int)n).ToArray();
            int stepsPerBlock = rows.Max(r => blk < r.Blocks ? r.StepsPerBlock : 0);
            var quotas = counts.Select((n, r) => blk < rows[r].Blocks
                ? LladaTransferSchedule.Quotas(n, rows[r].StepsPerBlock).Concat(new int[stepsPerBlock - rows[r].StepsPerBlock]).ToArray()
                : new int[stepsPerBlock]).ToArray();
            for (int i = 0; i < stepsPerBlock; i++)
            {
                using var scope = NewDisposeScope();
                var k = quotas.Select(q => (long)q[i]).ToArray();
                if (k.All(q => q == 0) && (o.SkipEmptySteps || counts.All(n => n == 0))) continue;
                var logits = BlockLogits(denoiser, x, canvas.KeyPadding, s, width);             // [B, b, V]
                forwards++;
                var masked = x.narrow(1, s, width).eq(maskId) & free.narrow(1, s, width);      // [B, b]
                var (proposal, confidence, rank) = Propose(logits, masked, generator);
                var chosen = SamplingGuards.SelectPerRow(rank, k, 0, generator);
                var before = recorder is null ? null : x.clone();
                x.narrow(1, s, width).copy_(where(chosen, proposal, x.narrow(1, s, width)));
                recorder?.Record(before!, x, Widen(confidence, x, s));
            }
        }
        return new SamplerOutput(x.MoveToOuterDisposeScope(), forwards, recorder?.Build());
    }

    /// <summary>
    /// Each row's own layout: its generation length is its last mask's column + 1 − <paramref name="start"/> (the batch's
    /// first masked column; 0 for a row without masks, which takes no step), cut into blocks of the block length (its own
    /// length when none is set) with steps / #blocks steps each, exactly as that row alone. Rows aligned at their first mask
    /// (<see cref="Canvas.ForCompletion"/>, <see cref="Canvas.ForInfill"/>) share block boundaries, so a row with fewer
    /// blocks or more steps per block than another still decodes as alone: in a block it is idle (quota 0) once its own
    /// steps are done or when the block is past its length.
    /// </summary>
    static (int Blocks, int StepsPerBlock)[] RowLayouts(Tensor free, long start, int? blockLength, int steps)
    {
        var flags = SamplingGuards.HostLongs(free);                                 // [B·T] on the host
        long width = free.shape[1];
        var lengths = Enumerable.Range(0, (int)free.shape[0])
            .Select(r => Enumerable.Range(0, (int)width).LastOrDefault(j => flags[r * width + j] != 0, -1) + 1 - start).ToArray();
        return lengths.Select((n, r) =>
        {
            if (n <= 0) return (0, 0);
            try { return Layout(n, blockLength ?? (int)n, steps); }
            catch (ArgumentException e) when (lengths.Length > 1) { throw new ArgumentException($"row {r}: {e.Message}"); }
        }).ToArray();
    }

    /// <summary>Number of blocks and steps per block; gen length % block length == 0 and steps % blocks == 0 (SPEC §5.3).</summary>
    internal static (int Blocks, int StepsPerBlock) Layout(long genLength, int blockLength, int steps)
    {
        if (blockLength < 1 || genLength % blockLength != 0)
            throw new ArgumentException($"generation length {genLength} is not a multiple of the block length {blockLength}");
        int blocks = (int)(genLength / blockLength);
        if (steps % blocks != 0)
            throw new ArgumentException($"steps {steps} is not a multiple of the number of blocks {blocks} (= {genLength} / {blockLength})");
        return (blocks, steps / blocks);
    }

    /// <summary>
    /// One full bidirectional forward; the block's rows [s, s + b) re-aligned for shifted models (row j reads the output at
    /// j − 1: <see cref="TokenChoice.AlignShiftedLogits"/> restricted to the block, s ≥ 1 as column 0 is never a mask),
    /// then EOS (optional) and [MASK] suppressed on the block only, so no [B, T, V] copy is made.
    /// </summary>
    Tensor BlockLogits(IDenoiser denoiser, Tensor x, Tensor? keyPadding, long s, long blockLength)
    {
        var all = denoiser.Forward(new DenoiserInput(x, AttentionPolicy.Bidirectional, SamplingGuards.PositionIds(keyPadding),
                                                     keyPadding)).Logits;                             // [B, T, V]; positions skip padding
        var logits = all.narrow(1, denoiser.ShiftedLogits ? s - 1 : s, blockLength);
        if (Options.LogitsEosInf) logits = SamplingGuards.SuppressToken(logits, Options.EosId!.Value);
        if (Options.SuppressMaskToken) logits = SamplingGuards.SuppressToken(logits, denoiser.MaskId);
        return logits;
    }

    /// <summary>
    /// x0 ~ softmax(logits / T) in float64 (<see cref="TokenChoice.SampleTempered"/>); confidence = softmax(logits)[x0] or
    /// U(0,1) (drawn on the CPU, <see cref="SeededDraws"/>); rank = confidence, −∞ where not masked,
    /// and (confidence_eos_eot_inf) confidence − 2 where x0 is EOS/EoT: below every other candidate but still committed
    /// when the quota needs it, as LLaDA's topk over −∞ does (in probability order rather than an arbitrary one).
    /// </summary>
    (Tensor Proposal, Tensor Confidence, Tensor Rank) Propose(Tensor logits, Tensor masked, Generator generator) =>
        ProposeTokens(logits, masked, Options.Temperature, Options.Remasking, generator, Demoted());

    long[] Demoted() => !Options.ConfidenceEosEotInf ? []
        : Options.EotId is { } eot ? [Options.EosId!.Value, eot] : [Options.EosId!.Value];

    /// <summary>Shared with <see cref="BlockDiffusionSampler"/>: proposals, confidences and ranks for logits [B, L, V].</summary>
    internal static (Tensor Proposal, Tensor Confidence, Tensor Rank) ProposeTokens(
        Tensor logits, Tensor masked, double temperature, RemaskingStrategy remasking, Generator generator, long[] demoted)
    {
        var proposal = TokenChoice.SampleTempered(logits, temperature, generator);                 // [B, L]
        var confidence = remasking == RemaskingStrategy.LowConfidence
            ? logits.to(ScalarType.Float32).softmax(-1).gather(-1, proposal.unsqueeze(-1)).squeeze(-1)
            : SeededDraws.Uniform(proposal.shape, generator, logits.device, ScalarType.Float32);
        var rank = confidence.to(ScalarType.Float64);
        foreach (var id in demoted) rank = where(proposal.eq(id), rank.AddScalar(-2), rank);           // ScalarOps: kept Scalars
        return (proposal, confidence, rank.masked_fill(masked.logical_not(), ScalarOps.NegativeInfinity));
    }

    /// <summary>The block's confidences [B, b] placed in a [B, T] tensor (for the trajectory).</summary>
    internal static Tensor Widen(Tensor blockConfidence, Tensor x, long start)
    {
        var full = zeros(x.shape, dtype: ScalarType.Float32, device: x.device);
        full.narrow(1, start, blockConfidence.shape[1]).copy_(blockConfidence);
        return full;
    }
}

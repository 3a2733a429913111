using OpenDllm.TimeSampling;
using static TorchSharp.torch;

namespace OpenDllm.Masking;

/// <summary>
/// Which tokens share a diffusion time: one t per sequence (MDLM, dllm, LLaDA), per packed document (Open-dLLM,
/// SPEC §2.2) or per block of b tokens (BD3LM, SPEC §4.2). Each method returns t per token [B, L] on the CPU;
/// times come from an <see cref="ITimestepSampler"/> and a seeded generator, so an antithetic sampler stratifies
/// across sequences, documents or blocks respectively.
/// </summary>
public static class TimeAssignment
{
    /// <summary>Broadcasts one time per sequence [B] to every token: [B, L].</summary>
    public static Tensor PerSequence(Tensor tPerSequence, long length)
    {
        if (tPerSequence.dim() != 1) throw new ArgumentException($"expected t of shape [B], got [{string.Join(", ", tPerSequence.shape)}].", nameof(tPerSequence));
        using var scope = NewDisposeScope();
        long batch = tPerSequence.shape[0];
        return tPerSequence.unsqueeze(1).expand(batch, length).contiguous().MoveToOuterDisposeScope();   // [B, L]
    }

    /// <summary>One time per sequence: B draws of <paramref name="sampler"/>, broadcast to [B, L].</summary>
    public static Tensor PerSequence(ITimestepSampler sampler, long batch, long length, Generator generator, ScalarType dtype = ScalarType.Float32)
    {
        using var scope = NewDisposeScope();
        return PerSequence(sampler.Sample(batch, generator, dtype), length).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// One time per packed document (SPEC §2.2): a document is a (row, id) pair of <paramref name="documentIds"/> [B, L]
    /// (ids ≥ 0, need not be contiguous). Documents are drawn in (row, id) order, so K documents take K draws of the
    /// sampler; every token gets its document's time: [B, L].
    /// </summary>
    public static Tensor PerDocument(Tensor documentIds, ITimestepSampler sampler, Generator generator, ScalarType dtype = ScalarType.Float32)
    {
        if (documentIds.dim() != 2) throw new ArgumentException($"expected document ids [B, L], got [{string.Join(", ", documentIds.shape)}].", nameof(documentIds));
        using var scope = NewDisposeScope();
        var ids = documentIds.to(ScalarType.Int64).cpu();                                          // [B, L]
        long batch = ids.shape[0], length = ids.shape[1];
        if (ids.numel() == 0) return zeros([batch, length], dtype: dtype).MoveToOuterDisposeScope();
        if (ids.min().item<long>() < 0) throw new ArgumentException("document ids must be ≥ 0.", nameof(documentIds));
        long stride = ids.max().item<long>() + 1;
        var key = arange(batch, dtype: ScalarType.Int64).unsqueeze(1) * stride + ids;             // [B, L], unique per (row, id)
        var (docs, inverse, _) = key.flatten().unique(sorted: true, return_inverse: true);         // docs [K], inverse [B·L]
        var tDocs = sampler.Sample(docs.shape[0], generator, dtype);                               // [K]
        return tDocs.index_select(0, inverse!).view(batch, length).MoveToOuterDisposeScope();       // [B, L]
    }

    /// <summary>
    /// One time per block of <paramref name="blockSize"/> tokens (BD3LM, SPEC §4.2): B·⌈L/b⌉ draws (so an antithetic
    /// sampler stratifies across all blocks of the batch, as bd3lms does), each repeated b times; a last partial block
    /// gets its own time: [B, L].
    /// </summary>
    public static Tensor PerBlock(ITimestepSampler sampler, long batch, long length, long blockSize, Generator generator, ScalarType dtype = ScalarType.Float32)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        using var scope = NewDisposeScope();
        long blocks = (length + blockSize - 1) / blockSize;
        var tBlocks = sampler.Sample(batch * blocks, generator, dtype).view(batch, blocks);       // [B, nb]
        var perToken = tBlocks.repeat_interleave(blockSize, dim: 1);                               // [B, nb·b]
        return perToken.narrow(1, 0, length).contiguous().MoveToOuterDisposeScope();               // [B, L]
    }
}

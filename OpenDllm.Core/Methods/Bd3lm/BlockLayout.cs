using OpenDllm.Attention;
using OpenDllm.Data;
using OpenDllm.Models;
using static TorchSharp.torch;

namespace OpenDllm.Methods.Bd3lm;

/// <summary>
/// The clean sequences a BD3LM step trains on, all [B, L] on the batch's device: token ids, rotary positions, document ids
/// (−1 where there is no token), key padding (true for a token), <see cref="EosPads"/> (true for an EOS that block padding
/// added) and <see cref="Original"/> (true for a token of the loader's batch). <see cref="DocumentIds"/> is null when no
/// document mask is needed (chunks, or documents without a boundary and without padding).
/// </summary>
public sealed record BlockLayout(Tensor Tokens, Tensor PositionIds, Tensor? DocumentIds, Tensor KeyPadding, bool HasPadding,
                                 Tensor EosPads, Tensor Original)
{
    /// <summary>The loader's batch as it is (bd3lms: concatenated chunks, no alignment).</summary>
    public static BlockLayout Unpadded(PackedBatch batch)
    {
        bool documents = batch.Mode == PackingMode.Documents && batch.HasDocumentBoundaries;
        return new BlockLayout(batch.Tokens, batch.PositionIds, documents ? batch.DocumentIds : null, batch.KeyPadding,
                               batch.PaddingTokens > 0, zeros_like(batch.KeyPadding), batch.KeyPadding);
    }

    /// <summary>
    /// The 2L model input of SPEC §4.1: tokens <c>concat(x_t, x_0)</c> [B, 2L], positions <c>concat(pos, pos)</c> (both
    /// halves share RoPE positions), the block-diffusion mask (<see cref="BlockDiffusionAttention"/>) intersected with the
    /// document mask and key padding, each copied to both halves (a noisy block sees its own block and the strictly earlier
    /// clean blocks of its own document only).
    /// </summary>
    /// <param name="noisy">x_t [B, L].</param>
    /// <param name="blockSize">b.</param>
    public ModelInput ConcatInput(Tensor noisy, int blockSize)
    {
        if (!noisy.shape.SequenceEqual(Tokens.shape))
            throw new ArgumentException($"x_t must be [{string.Join(", ", Tokens.shape)}], got [{string.Join(", ", noisy.shape)}]", nameof(noisy));
        return new ModelInput(
            cat([noisy, Tokens], 1),                                                     // [B, 2L]
            AttentionPolicy.BlockDiffusion(blockSize),
            cat([PositionIds, PositionIds], 1),                                          // [B, 2L]
            HasPadding ? cat([KeyPadding, KeyPadding], 1) : null,                        // [B, 2L]
            DocumentIds is { } ids ? cat([ids, ids], 1) : null);                         // [B, 2L]
    }
}

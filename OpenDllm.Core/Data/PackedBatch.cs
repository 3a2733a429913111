using OpenDllm.Attention;
using OpenDllm.Models;
using static TorchSharp.torch;

namespace OpenDllm.Data;

/// <summary>
/// One batch of fixed-length sequences from a <see cref="PackedLoader"/>, all [B, L]: token ids (int64), rotary positions
/// (int64), packed-document ids (int64; equal ids = same document within a row, padding is −1) and key padding (bool,
/// true for real tokens). Only the last sequence of an epoch can hold padding (the stream's tail, padded with EOS).
/// With <see cref="PackingMode.Examples"/> each row is one example right-padded with EOS; that padding counts as tokens
/// (visible, key padding true, labelled EOS) and <see cref="Prompt"/> marks the prompt positions.
/// Dispose it (or create it inside a dispose scope) to free the tensors.
/// </summary>
public sealed class PackedBatch : IDisposable
{
    internal PackedBatch(Tensor tokens, Tensor positionIds, Tensor documentIds, Tensor keyPadding, long paddingTokens, LoaderCursor next,
                         bool documentBoundaries = true, Tensor? prompt = null)
    {
        Prompt = prompt;
        Mode = next.Mode;
        HasDocumentBoundaries = documentBoundaries;
        (Tokens, PositionIds, DocumentIds, KeyPadding, PaddingTokens, Next) = (tokens, positionIds, documentIds, keyPadding, paddingTokens, next);
    }

    /// <summary>[B, L] int64 token ids.</summary>
    public Tensor Tokens { get; }

    /// <summary>[B, L] int64 positions: restart at 0 per document (<see cref="PackingMode.Documents"/>) or 0..L−1.</summary>
    public Tensor PositionIds { get; }

    /// <summary>[B, L] int64 document ids within each row (0, 1, …; −1 for padding).</summary>
    public Tensor DocumentIds { get; }

    /// <summary>[B, L] bool, true for real tokens.</summary>
    public Tensor KeyPadding { get; }

    /// <summary>
    /// [B, L] bool, true at prompt positions (never masked, never scored in supervised fine-tuning); null unless the batch
    /// holds one example per row (<see cref="PackingMode.Examples"/>) of prompt/response data (<see cref="TokenSplit.HasPrompts"/>).
    /// </summary>
    public Tensor? Prompt { get; }

    /// <summary>Number of padding positions in the batch that are not attended to (usually 0; always 0 for examples,
    /// whose EOS padding is visible).</summary>
    public long PaddingTokens { get; }

    /// <summary>The loader's cursor after this batch: save it with a checkpoint to resume right after it.</summary>
    public LoaderCursor Next { get; }

    /// <summary>True when some row holds more than one document (known to the loader, so checking it reads nothing from the
    /// device); false means <see cref="ToModelInput"/> needs no document mask.</summary>
    public bool HasDocumentBoundaries { get; }

    /// <summary>How the sequences were built.</summary>
    public PackingMode Mode { get; }

    /// <summary>Batch size B.</summary>
    public long BatchSize => Tokens.shape[0];

    /// <summary>The model input for these sequences: positions, key padding when there is any, and document ids when
    /// packing documents and some row holds two or more (no attention across documents, SPEC §2.1). Without padding and
    /// boundaries no attention mask is built at all, so SDPA can use its fused kernels.</summary>
    public ModelInput ToModelInput(AttentionPolicy attention) =>
        new(Tokens, attention, PositionIds, PaddingTokens > 0 ? KeyPadding : null,
            Mode == PackingMode.Documents && HasDocumentBoundaries ? DocumentIds : null);

    /// <summary>Disposes the tensors.</summary>
    public void Dispose()
    {
        Prompt?.Dispose();
        Tokens.Dispose();
        PositionIds.Dispose();
        DocumentIds.Dispose();
        KeyPadding.Dispose();
    }
}

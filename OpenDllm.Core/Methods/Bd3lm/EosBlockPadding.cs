using OpenDllm.Data;
using static TorchSharp.torch;

namespace OpenDllm.Methods.Bd3lm;

/// <summary>
/// EOS block padding of packed documents (dllm's <c>AppendEOSBlockWrapper</c>, SPEC §1.6, §4.2), applied to a packed row:
/// every document (a run of equal document ids) is moved to start on a block boundary and its tail is filled with EOS up
/// to a multiple of b. With d_k the k-th document's length and ⌈d_k⌉_b = b·⌈d_k / b⌉:
/// <code>
/// start′_k = Σ_{j&lt;k} ⌈d_j⌉_b          token i of document k (offset o) moves to start′_k + o
/// slots start′_k + d_k … start′_k + ⌈d_k⌉_b − 1 hold EOS (document k, positions continuing)
/// </code>
/// so no block holds two documents, and the pads are ordinary targets (labels EOS, as in dllm) that teach the model to
/// end a document inside a block. The row keeps its length L: tokens pushed past L are dropped from this step (they are
/// not carried into the next row; <see cref="BlockLayout.Original"/> marks the tokens kept). Slots after the last
/// document's padding are key padding. Everything is computed on the device; nothing is read back.
/// </summary>
public static class EosBlockPadding
{
    /// <summary>The block-aligned layout of <paramref name="batch"/> (documents packing).</summary>
    public static BlockLayout Apply(PackedBatch batch, int blockSize, long eosId) =>
        Apply(batch.Tokens, batch.PositionIds, batch.DocumentIds, batch.KeyPadding, blockSize, eosId);

    /// <param name="tokens">[B, L] token ids.</param>
    /// <param name="positions">[B, L] positions (consecutive within a document).</param>
    /// <param name="documentIds">[B, L] document ids 0, 1, … within each row, −1 for padding (at the end).</param>
    /// <param name="keyPadding">[B, L] bool, true for a token.</param>
    /// <param name="blockSize">b.</param>
    /// <param name="eosId">the id the pads get.</param>
    public static BlockLayout Apply(Tensor tokens, Tensor positions, Tensor documentIds, Tensor keyPadding, int blockSize, long eosId)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        using var scope = NewDisposeScope();
        long rows = tokens.shape[0], length = tokens.shape[1];
        var device = tokens.device;
        var real = keyPadding.to(ScalarType.Bool);                                                   // [B, L]
        var doc = documentIds.clamp_min(0);                                                          // [B, L] document k of each slot

        // 1. document lengths d_k, aligned lengths ⌈d_k⌉_b, old and new starts                  [B, L] (index k < L)
        var d = zeros([rows, length], dtype: ScalarType.Int64, device: device).scatter_add(1, doc, real.to(ScalarType.Int64));
        var aligned = (d + blockSize - 1).div(blockSize, RoundingMode.floor) * blockSize;
        var oldStart = d.cumsum(1) - d;
        var newStart = aligned.cumsum(1) - aligned;
        var newEnd = (newStart + aligned).contiguous();                                              // nondecreasing per row
        var total = aligned.sum(1, keepdim: true);                                                   // [B, 1]

        // 2. for each new slot j: its document k (the number of documents ending at or before j) and its offset
        var slot = arange(length, dtype: ScalarType.Int64, device: device).unsqueeze(0).expand(rows, length).contiguous();   // [B, L]
        var k = searchsorted(newEnd, slot, right: true).clamp_max(length - 1);                   // [B, L]
        var inDocument = slot < total;                                                               // [B, L]
        var offset = slot - newStart.gather(1, k);                                                   // [B, L]
        var isToken = inDocument & (offset < d.gather(1, k));                                        // a moved token, else an EOS pad
        var source = (oldStart.gather(1, k) + offset).clamp(0, length - 1);                          // [B, L] its old slot

        // 3. the new rows
        var eos = full([rows, length], eosId, dtype: ScalarType.Int64, device: device);
        var newTokens = where(isToken, tokens.gather(1, source), eos);
        var firstPosition = positions.gather(1, oldStart.gather(1, k).clamp(0, length - 1));       // position of the document's first token
        var newPositions = where(inDocument, firstPosition + offset, zeros_like(offset));
        var newDocuments = where(inDocument, k, full_like(k, -1));
        var pads = inDocument & isToken.logical_not();
        return new BlockLayout(newTokens.MoveToOuterDisposeScope(), newPositions.MoveToOuterDisposeScope(), newDocuments.MoveToOuterDisposeScope(),
                               inDocument.MoveToOuterDisposeScope(), HasPadding: true, pads.MoveToOuterDisposeScope(), isToken.MoveToOuterDisposeScope());
    }
}

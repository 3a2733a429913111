using static TorchSharp.torch;

namespace OpenDllm.Objectives;

/// <summary>
/// Representation alignment for AR → diffusion adaptation (SPEC §3; "Don't Retrain—Align",
/// <see href="https://arxiv.org/abs/2605.06885"/>): the bidirectional student's hidden states on x_t are pulled towards a
/// frozen causal teacher's hidden states on x_0, at the MDM-active positions, over every hidden-state entry
/// (embedding output, each layer's input, final-norm output), all equally weighted. Total loss: L_MDM + λ·L_align (λ = 10 in the paper).
/// </summary>
public static class RepresentationAlignmentLoss
{
    /// <summary>
    /// L_align = 1 − mean_{i ∈ M, ℓ} cos(h^S_ℓ[i], sg(h^T_ℓ[i])) ∈ [0, 2], where M are the active predictions of
    /// <see cref="LossTargets.Active"/> (shifted: position i is used iff token i + 1 is masked and i is not a document end).
    /// <paramref name="student"/> and <paramref name="teacher"/> hold one [B, L, D] tensor per entry. Returns null when M is
    /// empty (skipped, not zero-filled, as in Open-dLLM).
    /// </summary>
    public static Tensor? Compute(IReadOnlyList<Tensor> student, IReadOnlyList<Tensor> teacher, Tensor masked, bool shift,
                                  Tensor? maskable = null, Tensor? documentEnd = null)
    {
        if (student.Count == 0 || student.Count != teacher.Count)
            throw new ArgumentException($"need the same non-zero number of student and teacher states, got {student.Count} and {teacher.Count}");
        using var scope = NewDisposeScope();
        var active = LossTargets.Active(masked, shift, maskable, documentEnd);             // [B, L′] bool
        return AtPositions(student.Select(h => LossTargets.Predictions(h, shift)).ToList(),
                           teacher.Select(h => LossTargets.Predictions(h, shift)).ToList(), active)?.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The same loss at explicit positions: <paramref name="active"/> [B, L′] bool selects positions of the already-aligned
    /// [B, L′, D] states. Null when no position is selected.
    /// </summary>
    public static Tensor? AtPositions(IReadOnlyList<Tensor> student, IReadOnlyList<Tensor> teacher, Tensor active)
    {
        if (student.Count == 0 || student.Count != teacher.Count)
            throw new ArgumentException($"need the same non-zero number of student and teacher states, got {student.Count} and {teacher.Count}");
        if (!active.any().item<bool>()) return null;
        using var scope = NewDisposeScope();

        // 1. gather the active positions of every entry                                  [|M|, layers, D]
        var hs = stack(student.Select(h => h[active]).ToArray(), 1);
        var ht = stack(teacher.Select(h => h[active]).ToArray(), 1).detach();
        if (!hs.shape.SequenceEqual(ht.shape))
            throw new ArgumentException($"student and teacher states differ: [{string.Join(", ", hs.shape)}] vs [{string.Join(", ", ht.shape)}]");

        // 2. cosine on D: L2-normalise, dot                                                [|M|, layers]
        var cos = (Unit(hs.to(ScalarType.Float32)) * Unit(ht.to(ScalarType.Float32))).sum(-1);

        // 3. 1 − mean over positions and layers                                             []
        return (1 - cos.mean()).MoveToOuterDisposeScope();
    }

    /// <summary>x / max(‖x‖₂, 1e-12) along the last dim (torch F.normalize); a zero vector stays 0 (cos 0).</summary>
    private static Tensor Unit(Tensor x) => nn.functional.normalize(x, p: 2, dim: -1, eps: 1e-12);
}

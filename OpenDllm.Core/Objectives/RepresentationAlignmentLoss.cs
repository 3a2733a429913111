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
    /// [B, L′, D] states. Null when no position is selected (this reads <c>active.any()</c> back to the host; the trainer
    /// uses <see cref="Masked"/>, which never does).
    /// </summary>
    public static Tensor? AtPositions(IReadOnlyList<Tensor> student, IReadOnlyList<Tensor> teacher, Tensor active)
    {
        CheckCounts(student, teacher);
        if (!active.any().item<bool>()) return null;
        using var scope = NewDisposeScope();
        return Masked(student, teacher, active).Loss.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <see cref="AtPositions"/> without a host synchronisation, for training steps (SPEC §3):
    /// <code>
    /// L_align = 1 − Σ_{i ∈ M} mean_ℓ cos(h^S_ℓ[i], sg(h^T_ℓ[i])) / max(|M|, 1),   Present = (|M| &gt; 0)
    /// </code>
    /// computed densely at every position of the aligned [B, L′, D] states and weighted by <paramref name="active"/> [B, L′],
    /// so no tensor is sized by |M|. With |M| = 0, <c>Loss</c> is 1 with a zero gradient and <c>Present</c> is false: a caller
    /// adds λ·Present·L_align, which skips the term (Open-dLLM's None) instead of adding 1. The value equals
    /// <see cref="AtPositions"/> up to float32 summation order.
    /// </summary>
    /// <returns>Loss: [] float32 with grad through the student; Present: [] float32, 1 when M is non-empty, else 0.</returns>
    public static (Tensor Loss, Tensor Present) Masked(IReadOnlyList<Tensor> student, IReadOnlyList<Tensor> teacher, Tensor active)
    {
        CheckCounts(student, teacher);
        using var scope = NewDisposeScope();
        // 1. cosine on D at every position of every entry, averaged over entries       [B, L′]
        Tensor? sum = null;
        for (int l = 0; l < student.Count; l++)
        {
            var (hs, ht) = (student[l], teacher[l].detach());
            if (!hs.shape.SequenceEqual(ht.shape))
                throw new ArgumentException($"student and teacher states differ: [{string.Join(", ", hs.shape)}] vs [{string.Join(", ", ht.shape)}]");
            var cos = (Unit(hs.to(ScalarType.Float32)) * Unit(ht.to(ScalarType.Float32))).sum(-1);
            sum = sum is null ? cos : sum + cos;
        }
        var perPosition = sum! / student.Count;
        // 2. mean over M, 1 − it; |M| = 0 gives 1 − 0/1                                []
        var weight = active.to(ScalarType.Float32);
        var count = weight.sum();
        var loss = 1 - (perPosition * weight).sum() / count.clamp_min(1);
        var present = (count > 0).to(ScalarType.Float32);
        return (loss.MoveToOuterDisposeScope(), present.MoveToOuterDisposeScope());
    }

    static void CheckCounts(IReadOnlyList<Tensor> student, IReadOnlyList<Tensor> teacher)
    {
        if (student.Count == 0 || student.Count != teacher.Count)
            throw new ArgumentException($"need the same non-zero number of student and teacher states, got {student.Count} and {teacher.Count}");
    }

    /// <summary>x / max(‖x‖₂, 1e-12) along the last dim (torch F.normalize); a zero vector stays 0 (cos 0).</summary>
    private static Tensor Unit(Tensor x) => nn.functional.normalize(x, p: 2, dim: -1, eps: 1e-12);
}

using OpenDllm.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Objectives;

/// <summary>
/// The cross entropy of a linear head, never holding more than one chunk of logits (SPEC §2.6: Open-dLLM uses a fused
/// linear cross entropy for the same reason). For N selected rows h_i [D], targets y_i and head weight W [V, D]:
/// <code>
/// z_i  = W·h_i + b  (float32; b the optional decoder bias [V]; z_i[m] = −∞ when a token m is suppressed, SUBS, SPEC §1.3)
/// CE_i = logsumexp(z_i) − z_i[y_i]
/// ∂CE_i/∂z_i = softmax(z_i) − onehot(y_i),   ∂L/∂h_i = Σ_v g_i·∂CE_i/∂z_iv · W_v,   ∂L/∂W = Σ_i g_i·(∂CE_i/∂z_i) ⊗ h_i,   ∂L/∂b = Σ_i g_i·∂CE_i/∂z_i
/// </code>
/// with g_i = ∂L/∂CE_i from whatever loss is built on the CEs. The forward keeps only logsumexp(z_i) [N]; the backward
/// forms each chunk's logits again, so neither pass keeps [N, V] alive (a custom autograd function: autograd would
/// otherwise save every chunk's log-softmax for the backward).
/// </summary>
public static class ChunkedCrossEntropy
{
    /// <summary>Float32 logits per chunk when <see cref="Models.HeadInput.ChunkRows"/> is 0: 256 MiB.</summary>
    public const long DefaultChunkBytes = 256L << 20;

    /// <summary>Rows per chunk: <paramref name="requested"/> when positive, else ⌊DefaultChunkBytes / (4·V)⌋ (at least 1).</summary>
    public static long ChunkRows(long vocab, long requested = 0) =>
        requested > 0 ? requested : Math.Max(1, DefaultChunkBytes / (4 * Math.Max(1, vocab)));

    /// <summary>
    /// CE_i of the rows <paramref name="hidden"/> [N, D] under the head <paramref name="weight"/> [V, D] against
    /// <paramref name="target"/> [N] (long), float32 [N], differentiable w.r.t. hidden, weight and the optional decoder
    /// <paramref name="bias"/> [V] (BERT's MLM head has one, <see cref="HeadInput.Bias"/>).
    /// </summary>
    public static Tensor Compute(Tensor hidden, Tensor weight, Tensor target, long? suppressToken = null, long chunkRows = 0, Tensor? bias = null)
    {
        if (hidden.dim() != 2 || weight.dim() != 2 || hidden.shape[1] != weight.shape[1])
            throw new ArgumentException($"hidden [N, D] and weight [V, D] expected, got [{string.Join(", ", hidden.shape)}] and [{string.Join(", ", weight.shape)}]");
        if (target.dim() != 1 || target.shape[0] != hidden.shape[0])
            throw new ArgumentException($"target must be [{hidden.shape[0]}], got [{string.Join(", ", target.shape)}]", nameof(target));
        if (suppressToken is long m && (m < 0 || m >= weight.shape[0]))
            throw new ArgumentOutOfRangeException(nameof(suppressToken), m, $"outside the vocabulary of {weight.shape[0]}");
        if (bias is not null && (bias.dim() != 1 || bias.shape[0] != weight.shape[0]))
            throw new ArgumentException($"bias must be [{weight.shape[0]}], got [{string.Join(", ", bias.shape)}]", nameof(bias));
        long rows = ChunkRows(weight.shape[0], chunkRows), suppress = suppressToken ?? -1L;
        return bias is null ? HeadCrossEntropyFunction.apply(hidden, weight, target, suppress, rows)
                            : HeadCrossEntropyFunction.apply(hidden, weight, target, bias, suppress, rows);
    }

    /// <summary>Float32 logits of one chunk of rows (plus the bias, if any), with the suppressed column at −∞. [C, D] → [C, V]</summary>
    internal static Tensor ChunkLogits(Tensor hidden, Tensor weight, long suppressToken, Tensor? bias = null)
    {
        var z = (bias is null ? hidden.matmul(weight.t()) : nn.functional.linear(hidden, weight, bias)).to(ScalarType.Float32);   // [C, V]
        if (suppressToken >= 0) LogitMasks.SuppressTokenInPlace(z, suppressToken);
        return z;
    }

    /// <summary>The custom autograd function behind <see cref="Compute"/>: arguments (hidden, weight, target[, bias], suppress, chunk rows):
    /// the bias, when present, comes right after the tensors so its gradient sits at index 3 whether gradients are matched to
    /// all arguments or to the tensor arguments only.</summary>
    sealed class HeadCrossEntropyFunction : autograd.SingleTensorFunction<HeadCrossEntropyFunction>
    {
        public override string Name => nameof(ChunkedCrossEntropy);

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (hidden, weight, target) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2]);
            var bias = vars.Length > 5 ? (Tensor)vars[3] : null;
            int k = bias is null ? 3 : 4;
            long suppress = (long)vars[k], rows = (long)vars[k + 1], n = hidden.shape[0];
            using var scope = NewDisposeScope();
            var ce = empty(n, dtype: ScalarType.Float32, device: hidden.device);                    // [N]
            var lse = empty(n, dtype: ScalarType.Float32, device: hidden.device);                   // [N]
            for (long s = 0; s < n; s += rows)
            {
                using var chunk = NewDisposeScope();
                long c = Math.Min(rows, n - s);
                var z = ChunkLogits(hidden.narrow(0, s, c), weight, suppress, bias);                // [C, V]
                var y = target.narrow(0, s, c).unsqueeze(1);                                         // [C, 1]
                var logZ = z.logsumexp(1);                                                           // [C]
                lse.narrow(0, s, c).copy_(logZ);
                ce.narrow(0, s, c).copy_(logZ - z.gather(1, y).squeeze(1));
            }
            // TorchSharp saves these after forward returns: lse must outlive this scope until then
            ctx.save_for_backward(bias is null ? [hidden, weight, target, lse.MoveToOuterDisposeScope()]
                                               : [hidden, weight, target, lse.MoveToOuterDisposeScope(), bias]);
            ctx.save_data("suppress", suppress);
            ctx.save_data("rows", rows);
            return ce.MoveToOuterDisposeScope();
        }

        /// <summary>
        /// The gradients the last backward on this thread returned. Autograd may call backward on a thread of its own (CUDA)
        /// where no dispose scope is open, so their wrappers are kept here and freed by the next call, not left to the GC.
        /// </summary>
        [ThreadStatic] static List<Tensor>? _returned;

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradCe)
        {
            // libtorch took its references to the previous call's gradients as soon as that call returned: free the wrappers
            _returned?.ForEach(r => r.Dispose());
            _returned = null;
            using var scope = NewDisposeScope();
            var saved = ctx.get_saved_variables();
            var (hidden, weight, target, lse) = (saved[0], saved[1], saved[2], saved[3]);
            var bias = saved.Count > 4 ? saved[4] : null;
            var gradBias = bias is null ? null : zeros(bias.shape, dtype: ScalarType.Float32, device: bias.device);   // [V], fp32
            long suppress = (long)ctx.get_data("suppress"), rows = (long)ctx.get_data("rows"), n = hidden.shape[0];
            var g = gradCe.to(ScalarType.Float32);                                                   // [N]
            var gradHidden = empty_like(hidden);                                                     // [N, D]
            var gradWeight = zeros(weight.shape, dtype: ScalarType.Float32, device: weight.device);  // [V, D], accumulated in fp32
            for (long s = 0; s < n; s += rows)
            {
                using var chunk = NewDisposeScope();
                long c = Math.Min(rows, n - s);
                var h = hidden.narrow(0, s, c);                                                      // [C, D]
                var gc = g.narrow(0, s, c).unsqueeze(1);                                             // [C, 1]
                // g·(softmax − onehot), in place on the chunk's logits                              [C, V]
                var dz = ChunkLogits(h, weight, suppress, bias).sub_(lse.narrow(0, s, c).unsqueeze(1)).exp_().mul_(gc);
                dz.scatter_add_(1, target.narrow(0, s, c).unsqueeze(1), gc.neg());
                gradBias?.add_(dz.sum([0L]));                                                         // [V]
                var dzw = dz.to(weight.dtype);
                gradHidden.narrow(0, s, c).copy_(dzw.matmul(weight));                                // [C, D]
                if (weight.dtype == ScalarType.Float32) gradWeight.addmm_(dzw.t(), h);
                else gradWeight.add_(dzw.t().matmul(h));                                             // [V, D]
            }
            List<Tensor> grads = [gradHidden.DetachFromDisposeScope(), gradWeight.to(weight.dtype).DetachFromDisposeScope()];
            if (gradBias is not null) grads.Add(gradBias.to(bias!.dtype).DetachFromDisposeScope());
            _returned = grads;
            return gradBias is null ? [grads[0], grads[1], null!, null!, null!] : [grads[0], grads[1], null!, grads[2], null!, null!];
        }
    }
}

using OpenDllm.Runtime;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Training;

/// <summary>
/// TorchSharp's AdamW with a step that cannot hit the Scalar finalizer race: TorchSharp 0.107's own
/// <c>AdamW.step</c> passes temporaries such as <c>exp_avg.mul_(beta1)</c> and <c>add_(grad, alpha: 1 − β₁)</c>, whose
/// Scalars a GC can free while libtorch still reads them (see <see cref="ScalarOps"/>). Here every Scalar is held by
/// <see cref="ScalarOps"/> until its native call has returned. The arithmetic, op for op, is TorchSharp's (PyTorch's
/// AdamW, Loshchilov &amp; Hutter, decoupled weight decay), for each parameter θ with gradient g at step t:
/// <code>
/// θ ← θ · (1 − lr·λ)                                   decoupled weight decay
/// m ← β₁·m + (1 − β₁)·g,   v ← β₂·v + (1 − β₂)·g²      moments
/// θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)  bias-corrected step, ε outside the square root
/// </code>
/// (with <c>amsgrad</c>, v in the denominator is the running maximum of v; with <c>maximize</c>, g is negated).
/// The class is a subclass named <c>AdamW</c> on purpose: the state (moments, step counts, options) and the
/// <c>save_state_dict</c> file, whose header is the class name, are TorchSharp's, byte for byte, so checkpoints written
/// before this class existed resume with it and the other way round.
/// </summary>
public sealed class AdamW : TorchSharp.Modules.AdamW
{
    /// <summary>Same parameters and defaults as <c>torch.optim.AdamW</c>.</summary>
    public AdamW(IEnumerable<Parameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
                 double weight_decay = 0, bool amsgrad = false, bool maximize = false)
        : base(parameters, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize)
    {
    }

    /// <summary>One AdamW update of every parameter that has a gradient (no grad, inside one dispose scope).</summary>
    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var options = (Options)group.Options;
        double beta1 = options.beta1!.Value, beta2 = options.beta2!.Value, eps = options.eps!.Value;
        double weightDecay = options.weight_decay!.Value, lr = options.LearningRate!.Value;
        bool amsgrad = options.amsgrad!.Value, maximize = options.maximize!.Value;
        foreach (var param in group.Parameters)
        {
            var state = (State)_state[param.Handle];
            var grad = param.grad;
            if (grad is null) continue;
            if (maximize) grad = grad.neg();
            state.step += 1;

            param.MulScalar_(1 - lr * weightDecay);
            double biasCorrection1 = 1 - Math.Pow(beta1, state.step);
            double biasCorrection2 = 1 - Math.Pow(beta2, state.step);
            state.exp_avg.MulScalar_(beta1).AddScaled_(grad, 1 - beta1);
            state.exp_avg_sq.MulScalar_(beta2).AddcmulScalar_(grad, grad, 1 - beta2);

            Tensor second = state.exp_avg_sq;
            if (amsgrad)
            {
                var previous = state.max_exp_avg_sq;
                state.max_exp_avg_sq = maximum(previous, state.exp_avg_sq).DetachFromDisposeScope();
                previous.Dispose();
                second = state.max_exp_avg_sq;
            }
            var denominator = second.sqrt().DivScalar(Math.Sqrt(biasCorrection2)).AddScalar_(eps);
            param.AddcdivScalar_(state.exp_avg, denominator, -(lr / biasCorrection1));
        }
    }, closure);
}

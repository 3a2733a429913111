using static TorchSharp.torch;

namespace OpenDllm.Objectives;

/// <summary>
/// A token-level loss: <paramref name="Loss"/> is the differentiable scalar, <paramref name="TokenCe"/> the detached
/// per-prediction cross entropy [B, L′] (0 where the prediction is not a target; column i of a shifted loss scores token
/// i + 1, see <see cref="LossTargets"/>), and <paramref name="TargetCount"/> the number of predictions that entered the
/// loss, a long scalar left on the device so computing a loss never waits for it.
/// </summary>
public sealed record TokenLossResult(Tensor Loss, Tensor TokenCe, Tensor TargetCount)
{
    /// <summary><see cref="TargetCount"/> read on the host (a device synchronisation).</summary>
    public long NumTargets => TargetCount.item<long>();

    /// <summary>Moves the three tensors to the enclosing dispose scope.</summary>
    public TokenLossResult MoveToOuterDisposeScope()
    {
        Loss.MoveToOuterDisposeScope();
        TokenCe.MoveToOuterDisposeScope();
        TargetCount.MoveToOuterDisposeScope();
        return this;
    }
}

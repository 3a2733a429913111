using static TorchSharp.torch;

namespace OpenDllm.Objectives;

/// <summary>
/// A token-level loss: <paramref name="Loss"/> is the differentiable scalar, <paramref name="TokenCe"/> the detached
/// per-prediction cross entropy [B, L′] (0 where the prediction is not a target; column i of a shifted loss scores token
/// i + 1, see <see cref="LossTargets"/>), and <paramref name="NumTargets"/> the number of predictions that entered the loss.
/// </summary>
public sealed record TokenLossResult(Tensor Loss, Tensor TokenCe, long NumTargets);

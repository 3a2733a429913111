using static TorchSharp.torch;

namespace OpenDllm.Schedules;

/// <summary>
/// A masking (noise) schedule of absorbing-state diffusion (SPEC §1.1–1.2): α(t) is the probability that a token is
/// still clean at time t ∈ [0, 1] (α(0) = 1, α(1) ≈ 0); a token is masked with probability 1 − α(t).
/// One method per quantity; implementations and the factory by name live in <c>MaskSchedules</c>.
/// </summary>
public interface IMaskSchedule
{
    /// <summary>Registry name, e.g. "linear", "cosine", "loglinear".</summary>
    string Name { get; }

    /// <summary>α(t): probability that a token is still clean at time t.</summary>
    double Alpha(double t);

    /// <summary>α′(t) = dα/dt (≤ 0).</summary>
    double AlphaDerivative(double t);

    /// <summary>
    /// Reverse step s &lt; t for a still-masked token (SPEC §1.1): P(unmask) = (α(s) − α(t)) / (1 − α(t)).
    /// P(stay masked) = 1 − this = (1 − α(s)) / (1 − α(t)).
    /// </summary>
    double ReverseUnmaskProbability(double s, double t);

    /// <summary>The ELBO weight w(t) = −α′(t) / (1 − α(t)) of the masked-token cross entropy (SPEC §1.2).</summary>
    double LossWeight(double t);

    /// <summary>α(t) elementwise on a tensor of times (any shape, float).</summary>
    Tensor Alpha(Tensor t);

    /// <summary>w(t) elementwise on a tensor of times (any shape, float).</summary>
    Tensor LossWeight(Tensor t);
}

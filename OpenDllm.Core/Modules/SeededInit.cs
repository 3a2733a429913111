using OpenDllm.Sampling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Modules;

/// <summary>
/// Deterministic parameter initialisation from a caller's seeded CPU generator (<see cref="SeededDraws"/>): the same
/// generator state gives the same weights on every device, and libtorch's global generator is never drawn from. The
/// LDLM modules (SPEC §6) initialise through these in a fixed order, so one seed fixes every weight.
/// </summary>
public static class SeededInit
{
    /// <summary>Standard deviation of the learned queries' normal initialisation (SPEC §6.2: N(0, 0.02)).</summary>
    public const double Std = 0.02;

    /// <summary>Fills <paramref name="p"/> with N(0, <paramref name="std"/>²) drawn from <paramref name="generator"/>.</summary>
    public static void Normal(Tensor p, Generator generator, double std = Std) => SeededDraws.FillNormal(p, 0, std, generator);

    /// <summary>
    /// W ~ N(0, σ²) with σ = <paramref name="std"/>, or 1/√fan_in when null (variance-preserving: a unit-variance input gives
    /// a unit-variance output, as PyTorch's default Linear init up to its uniform shape), b = 0. The GPT-style fixed 0.02 made
    /// narrow Perceivers (width 16–64) pass almost nothing from their context: the tiny LDLM of the end-to-end test never
    /// learned to reconstruct with it and learned in 150 steps with this one.
    /// </summary>
    public static void Linear(Linear layer, Generator generator, double? std = null)
    {
        using var noGrad = no_grad();
        Normal(layer.weight!, generator, std ?? 1.0 / Math.Sqrt(layer.weight!.shape[1]));
        layer.bias?.zero_();
    }

    /// <summary>W = 0, b = 0 (adaLN-Zero's modulation and output layers start at zero; no draw).</summary>
    public static void Zero(Linear layer)
    {
        using var noGrad = no_grad();
        layer.weight!.zero_();
        layer.bias?.zero_();
    }

    /// <summary>γ = 1, β = 0: a LayerNorm starts as the plain standardisation.</summary>
    public static void LayerNorm(LayerNorm norm)
    {
        using var noGrad = no_grad();
        norm.weight?.fill_(1.0);
        norm.bias?.zero_();
    }

    /// <summary>w = 1: an RMS norm starts as the plain rescaling.</summary>
    public static void RmsNorm(RmsNorm norm)
    {
        using var noGrad = no_grad();
        norm.Weight.fill_(1.0);
    }
}

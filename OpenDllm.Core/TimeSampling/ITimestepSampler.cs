using static TorchSharp.torch;

namespace OpenDllm.TimeSampling;

/// <summary>
/// Draws diffusion times t for a batch (SPEC §1.5, §6.5). Every draw comes from the given seeded generator, on the CPU
/// (move the result with <c>.to(device)</c>), so the same seed gives the same times on every device (<see cref="Sampling.SeededDraws"/>).
/// </summary>
public interface ITimestepSampler
{
    /// <summary>Short registry-style name, e.g. "uniform", "antithetic".</summary>
    string Name { get; }

    /// <summary>n times, shape [n], on the CPU, in <paramref name="dtype"/> (computed in float64 first).</summary>
    Tensor Sample(long n, Generator generator, ScalarType dtype = ScalarType.Float32);
}

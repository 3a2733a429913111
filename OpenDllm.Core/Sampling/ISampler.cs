using static TorchSharp.torch;

namespace OpenDllm.Sampling;

/// <summary>
/// A decoding algorithm. It sees the model only through <see cref="IDenoiser"/>, so samplers swap in one line:
/// <c>ISampler sampler = new FastDllmSampler(new() { Threshold = 0.9 });</c>
/// </summary>
public interface ISampler
{
    /// <summary>Short name for logs and results (e.g. "maskgit_plus", "fast-dllm-dual"): the <see cref="SamplerFactory"/>
    /// name that builds this configuration, so there is one sampler vocabulary (numeric settings are recorded apart).</summary>
    string Name { get; }

    /// <summary>Fills every <c>[MASK]</c> of <paramref name="canvas"/>; never changes its fixed tokens.</summary>
    SamplerOutput Sample(IDenoiser denoiser, Canvas canvas);
}

/// <summary>The decoded canvas [B, T], the number of denoiser forwards, and the trajectory when recorded.</summary>
public sealed record SamplerOutput(Tensor Sequences, int Forwards, Trajectory? Trajectory = null);

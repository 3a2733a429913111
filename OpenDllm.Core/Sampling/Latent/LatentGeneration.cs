using static TorchSharp.torch;

namespace OpenDllm.Sampling.Latent;

/// <summary>
/// The result of <see cref="LatentSampler.Generate"/>: <paramref name="Tokens"/> [B, L] int64, the argmax decode of the
/// final latents; <paramref name="Latents"/> [B, K, d] float32, the final z₀ (both on the device the run used, like
/// <see cref="SamplerOutput.Sequences"/>); <paramref name="Forwards"/>, the number of denoiser forwards (decoder calls are
/// not counted); and the <see cref="Trajectory"/> of the decoded text when it was recorded. The caller owns the tensors.
/// </summary>
public sealed record LatentGeneration(Tensor Tokens, Tensor Latents, int Forwards, Trajectory? Trajectory = null);

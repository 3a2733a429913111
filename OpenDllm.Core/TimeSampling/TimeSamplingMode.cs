namespace OpenDllm.TimeSampling;

/// <summary>
/// How a diffusion recipe draws training times (<c>train.time_sampling</c>, SPEC §1.5, §2.2):
/// <list type="bullet">
/// <item><see cref="PerDocument"/>: one t per packed document from Open-dLLM's clamped uniform on [1/500, 1 − 1/500].</item>
/// <item><see cref="PerSequence"/>: one t per row from U(ε, 1).</item>
/// <item><see cref="Antithetic"/>: one t per row, stratified across the batch (MDLM's low-discrepancy sampler).</item>
/// </list>
/// </summary>
public enum TimeSamplingMode { PerDocument, PerSequence, Antithetic }

/// <summary>The sampler each <see cref="TimeSamplingMode"/> value stands for.</summary>
public static class TimeSamplingModeExtensions
{
    /// <summary>The timestep sampler of this mode (every value maps; there is no default branch).</summary>
    public static ITimestepSampler Sampler(this TimeSamplingMode mode) => mode switch
    {
        TimeSamplingMode.PerDocument => ClampedUniformTimestepSampler.OpenDllm,
        TimeSamplingMode.PerSequence => new UniformTimestepSampler(),
        TimeSamplingMode.Antithetic => new AntitheticTimestepSampler(),
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "unknown time sampling"),
    };
}

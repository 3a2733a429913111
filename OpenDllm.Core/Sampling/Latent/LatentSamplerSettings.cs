namespace OpenDllm.Sampling.Latent;

/// <summary>The reverse update a <see cref="LatentSampler"/> takes between two times (SPEC §6.4: the tan-d VP schedule).</summary>
public enum LatentSamplerKind
{
    /// <summary>Ancestral sampling from the Gaussian posterior q(z_s | z_t, z₀ = ẑ₀): stochastic, one normal draw per step.</summary>
    Ddpm,

    /// <summary>DDIM with η = 0: z_s = α_s·ẑ₀ + σ_s·ε̂, deterministic after the initial noise.</summary>
    Ddim,
}

/// <summary>Settings of <see cref="LatentSampler"/> (LDLM generation, SPEC §6.4 and §6.6).</summary>
public sealed record LatentSamplerSettings
{
    /// <summary>N, the number of denoiser forwards; the time grid is t_i = 1 − i/N, i = 0 … N.</summary>
    public int Steps { get; init; } = 10;

    /// <summary>The reverse update: <see cref="LatentSamplerKind.Ddim"/> (default) or <see cref="LatentSamplerKind.Ddpm"/>.</summary>
    public LatentSamplerKind Kind { get; init; } = LatentSamplerKind.Ddim;

    /// <summary>Feed the previous step's ẑ₀ as the self-conditioning input (zeros at the first step), SPEC §6.6. Off: zeros
    /// at every step (for a denoiser trained without self-conditioning).</summary>
    public bool SelfCondition { get; init; } = true;

    /// <summary>Seed of the initial noise z₁ and of the DDPM draws (drawn on the CPU, so equal on every device).</summary>
    public long Seed { get; init; }

    /// <summary>Decode ẑ₀ at every step and record the text as a <see cref="Trajectory"/> (costs one decoder call per step).</summary>
    public bool RecordTrajectory { get; init; }

    /// <summary>Off by default (null). When set to c &gt; 0, every ẑ₀ prediction is clamped elementwise to [−c, c] before it
    /// enters the update and the self-condition (a guard against a denoiser that overshoots at high noise; it changes the
    /// samples, so it is never on unless asked for).</summary>
    public double? ClipX0 { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> with a one-line message naming the first invalid field and its value.</summary>
    public LatentSamplerSettings Validate()
    {
        SamplerOptionChecks.Positive("steps", Steps);
        if (!Enum.IsDefined(Kind)) throw new ArgumentException($"kind must be ddpm or ddim, got {(int)Kind}");
        if (ClipX0 is { } c && !(c > 0 && double.IsFinite(c)))
            throw new ArgumentException($"clip_x0 must be finite and > 0 (or unset), got {SamplerOptionChecks.Show(c)}");
        return this;
    }
}

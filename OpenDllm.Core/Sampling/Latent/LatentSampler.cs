using OpenDllm.Runtime;
using OpenDllm.Schedules;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Sampling.Latent;

/// <summary>
/// Generation for a latent diffusion LM (LDLM, SPEC §6): start from z₁ ~ N(0, I) [B, K, d], walk the time grid
/// t_i = 1 − i/N of the tan-d VP schedule (SPEC §6.4) with an x0-predicting <see cref="ILatentDenoiser"/>, taking a
/// <see cref="LatentReverseStep"/> (DDIM or DDPM) from t_i to t_{i+1}, and decode the final z₀ with an
/// <see cref="ILatentDecoder"/> (tokens = argmax of the logits). The last step (s = 0) returns ẑ₀ itself.
/// <para>
/// Self-conditioning (SPEC §6.6): every forward after the first receives the previous step's ẑ₀ as its self-condition
/// input; the first receives zeros. Randomness (z₁ and DDPM's noise) is drawn on the CPU from a generator seeded with
/// <see cref="LatentSamplerSettings.Seed"/> (<see cref="SeededDraws"/>), so a seed gives the same draws on every device.
/// Latents are float32; a denoiser returning another dtype is cast back.
/// </para>
/// <example><code>
/// var run = new LatentSampler(new() { Steps = 50, Kind = LatentSamplerKind.Ddpm, Seed = 7 })
///     .Generate(denoiser, decoder, batch: 8, device: torch.CUDA);
/// </code></example>
/// </summary>
public sealed class LatentSampler(LatentSamplerSettings? settings = null)
{
    public LatentSamplerSettings Settings { get; } = (settings ?? new LatentSamplerSettings()).Validate();

    /// <summary>"ldlm-ddim" or "ldlm-ddpm", for logs and results.</summary>
    public string Name => Settings.Kind == LatentSamplerKind.Ddpm ? "ldlm-ddpm" : "ldlm-ddim";

    /// <summary>
    /// Generates <paramref name="batch"/> sequences. Runs under no_grad, every step in its own dispose scope.
    /// </summary>
    /// <param name="denoiser">the x0-predictor ẑ₀(z_t, t, ẑ₀^sc); it fixes K and d.</param>
    /// <param name="decoder">latents → token logits [B, L, V].</param>
    /// <param name="batch">B ≥ 1.</param>
    /// <param name="device">where the latents live (default: CPU); the draws are made on the CPU regardless.</param>
    /// <param name="schedule">the noise schedule (default: tan-d with d = 3).</param>
    /// <param name="maskIdForTrajectory">the token shown for "not decoded yet" in the trajectory's initial canvas;
    /// required when <see cref="LatentSamplerSettings.RecordTrajectory"/> is on, ignored otherwise.</param>
    /// <remarks>
    /// The trajectory: at every step the current ẑ₀ is decoded (argmax; confidence = the largest softmax probability) and
    /// the positions whose token differs from the previous step's decode are recorded (step 1: every position not equal to
    /// the mask id), so <see cref="Trajectory.CanvasAfter"/>(k) is the text decoded after k steps and
    /// CanvasAfter(Steps) equals <see cref="LatentGeneration.Tokens"/>.
    /// </remarks>
    public LatentGeneration Generate(ILatentDenoiser denoiser, ILatentDecoder decoder, int batch, Device? device = null,
                                     TanDSchedule? schedule = null, long? maskIdForTrajectory = null)
    {
        ArgumentNullException.ThrowIfNull(denoiser);
        ArgumentNullException.ThrowIfNull(decoder);
        if (batch < 1) throw new ArgumentException($"batch must be ≥ 1, got {batch}");
        if (denoiser.Latents < 1 || denoiser.LatentDim < 1)
            throw new ArgumentException($"the denoiser reports K = {denoiser.Latents} latents of width d = {denoiser.LatentDim}; both must be ≥ 1");
        var o = Settings;
        if (o.RecordTrajectory && maskIdForTrajectory is null)
            throw new ArgumentException("record_trajectory needs maskIdForTrajectory, the token id of the trajectory's initial (undecoded) canvas");
        schedule ??= new TanDSchedule();
        device ??= CPU;

        using var noGrad = no_grad();
        using var outer = NewDisposeScope();
        using var generator = SeededDraws.ForSeed(o.Seed);
        long[] shape = [batch, denoiser.Latents, denoiser.LatentDim];
        var z = empty(shape, dtype: ScalarType.Float32, device: device);                       // z₁ ~ N(0, I)
        SeededDraws.FillNormal(z, 0.0, 1.0, generator);
        var selfCondition = zeros_like(z);                                                      // zeros at the first step
        var decoded = maskIdForTrajectory is long maskId && o.RecordTrajectory
            ? full([batch, decoder.Length], maskId, dtype: ScalarType.Int64, device: device)   // [B, L]: the previous decode
            : null;
        var recorder = decoded is null ? null : new TrajectoryRecorder(decoded, maskIdForTrajectory!.Value);
        var grid = LatentReverseStep.TimeGrid(o.Steps);

        for (int i = 0; i < o.Steps; i++)
        {
            using var scope = NewDisposeScope();
            var time = full([batch], grid[i], dtype: ScalarType.Float32, device: device);      // [B]
            var x0 = PredictX0(denoiser, z, time, selfCondition);                               // [B, K, d] float32
            var next = i == o.Steps - 1 ? x0 : Update(z, x0, LatentReverseStep.For(o.Kind, schedule, grid[i], grid[i + 1]), generator);
            if (recorder is not null)
            {
                var (tokens, confidence) = Decode(decoder, x0);
                recorder.Record(decoded!, tokens, confidence);
                decoded!.copy_(tokens);
            }
            z.copy_(next);
            if (o.SelfCondition) selfCondition.copy_(x0);
        }
        // recorded: the last step decoded ẑ₀ = z₀ already
        var final = decoded ?? Decode(decoder, z).Tokens;
        return new LatentGeneration(final.MoveToOuterDisposeScope(), z.MoveToOuterDisposeScope(), o.Steps, recorder?.Build());
    }

    /// <summary>ẑ₀ [B, K, d] as float32, shape-checked, clamped to [−c, c] when <see cref="LatentSamplerSettings.ClipX0"/> is set.</summary>
    Tensor PredictX0(ILatentDenoiser denoiser, Tensor z, Tensor time, Tensor selfCondition)
    {
        var x0 = denoiser.PredictX0(z, time, selfCondition);
        if (!x0.shape.SequenceEqual(z.shape))
            throw new InvalidOperationException($"the denoiser returned ẑ₀ of shape [{string.Join(", ", x0.shape)}] for latents [{string.Join(", ", z.shape)}]");
        x0 = x0.to(ScalarType.Float32);
        return Settings.ClipX0 is double c ? x0.ClampScalar(-c, c) : x0;
    }

    /// <summary>z_s = a·z_t + b·ẑ₀ + c·ξ (<see cref="LatentReverseStep"/>); ξ ~ N(0, I) drawn only when c &gt; 0.</summary>
    static Tensor Update(Tensor z, Tensor x0, LatentReverseStep step, Generator generator)
    {
        var next = z.MulScalar(step.Noisy).AddScaled_(x0.MulScalar(step.Clean));             // ScalarOps: kept Scalars
        if (step.NoiseStd > 0)
        {
            var noise = empty_like(z);
            SeededDraws.FillNormal(noise, 0.0, 1.0, generator);
            next.AddScaled_(noise, step.NoiseStd);
        }
        return next;
    }

    /// <summary>Argmax tokens [B, L] int64 and their softmax probabilities [B, L] from the decoder's logits [B, L, V].</summary>
    static (Tensor Tokens, Tensor Confidence) Decode(ILatentDecoder decoder, Tensor latents)
    {
        var logits = decoder.Logits(latents);
        long b = latents.shape[0];
        if (logits.dim() != 3 || logits.shape[0] != b || logits.shape[1] != decoder.Length)
            throw new InvalidOperationException(
                $"the decoder returned logits of shape [{string.Join(", ", logits.shape)}]; expected [{b}, {decoder.Length}, V]");
        var (confidence, tokens) = logits.to(ScalarType.Float32).softmax(-1).max(-1);
        return (tokens, confidence);
    }
}

using OpenDllm.Sampling.Latent;
using OpenDllm.Schedules;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Sampling.Latent;

/// <summary>
/// The exact x0-predictor for Gaussian data z₀ ~ N(μ, s²I) under the VP schedule: z_t | z₀ ~ N(α_t z₀, σ_t² I), so
/// E[z₀ | z_t] = μ + (α_t s² / (α_t² s² + σ_t²))·(z_t − α_t μ), elementwise and per row's time. Ignores the self-condition.
/// </summary>
internal sealed class GaussianLatentDenoiser(long latents, long latentDim, double mean, double std, TanDSchedule? schedule = null) : ILatentDenoiser
{
    readonly TanDSchedule _schedule = schedule ?? new TanDSchedule();

    public long Latents => latents;
    public long LatentDim => latentDim;

    public Tensor PredictX0(Tensor noisy, Tensor time, Tensor selfCondition)
    {
        var t = time.to(ScalarType.Float64).view(-1, 1, 1);                           // [B, 1, 1]
        var alpha = _schedule.Alpha(t);
        var sigma = _schedule.Sigma(t);
        var gain = alpha * (std * std) / (alpha * alpha * (std * std) + sigma * sigma);
        return (gain * (noisy.to(ScalarType.Float64) - alpha * mean) + mean).to(noisy.dtype);
    }
}

/// <summary>Wraps a denoiser and keeps copies of every call's inputs and output.</summary>
internal sealed class SpyLatentDenoiser(ILatentDenoiser inner) : ILatentDenoiser, IDisposable
{
    public List<(Tensor Noisy, Tensor Time, Tensor SelfCondition, Tensor X0)> Calls { get; } = [];

    public long Latents => inner.Latents;
    public long LatentDim => inner.LatentDim;

    public Tensor PredictX0(Tensor noisy, Tensor time, Tensor selfCondition)
    {
        var x0 = inner.PredictX0(noisy, time, selfCondition);
        Calls.Add((Keep(noisy), Keep(time), Keep(selfCondition), Keep(x0)));
        return x0;
    }

    static Tensor Keep(Tensor t) => t.detach().clone().DetachFromDisposeScope();

    public void Dispose()
    {
        foreach (var c in Calls) { c.Noisy.Dispose(); c.Time.Dispose(); c.SelfCondition.Dispose(); c.X0.Dispose(); }
    }
}

/// <summary>One token per latent: logits[b, k, v] = z[b, k, :]·W[v, :] with a fixed seeded W [V, d].</summary>
internal sealed class LinearLatentDecoder : ILatentDecoder, IDisposable
{
    readonly Tensor _weight;

    public LinearLatentDecoder(long latents, long latentDim, int vocab, long seed = 1)
    {
        Length = latents;
        VocabSize = vocab;
        using var g = new Generator((ulong)seed);
        _weight = randn([vocab, latentDim], generator: g).DetachFromDisposeScope();
    }

    public long Length { get; }
    public int VocabSize { get; }

    public Tensor Logits(Tensor latents) => matmul(latents, _weight.to(latents.device).t());

    public void Dispose() => _weight.Dispose();
}

using TorchSharp;
using OpenDllm.TimeSampling;
using static TorchSharp.torch;

namespace OpenDllm.Methods.Ldlm;

/// <summary>
/// The adaptive timestep sampler of LDLM (SPEC §6.5) fed without host reads in the training step: each micro-batch adds
/// its per-sample diffusion losses into per-bin sums on the device (<see cref="Record"/>); <see cref="Flush"/> folds the
/// step's per-bin means into the EMA with one read (the trainer calls it once per optimizer step and before a checkpoint).
/// A step's micro-batches therefore count as one batch of the EMA, L̄_b ← β·L̄_b + (1 − β)·mean_b(step).
/// </summary>
public sealed class DeviceAdaptiveTimes : IDisposable
{
    Tensor? _sum, _count;     // [K] float64 on the loss device, since the last flush

    public DeviceAdaptiveTimes(AdaptiveTimestepSampler sampler) => Sampler = sampler;

    /// <summary>The sampler whose EMA is updated (its state goes into checkpoints).</summary>
    public AdaptiveTimestepSampler Sampler { get; private set; }

    /// <summary>n times [n] on the CPU from the current density.</summary>
    public Tensor Sample(long n, Generator generator) => Sampler.Sample(n, generator);

    /// <summary>Adds per-sample losses [n] at times [n] (same device) to the per-bin sums; no host read.</summary>
    public void Record(Tensor t, Tensor loss)
    {
        using var scope = NewDisposeScope();
        var device = loss.device;
        _sum ??= zeros(Sampler.Bins, dtype: ScalarType.Float64, device: device).DetachFromDisposeScope();
        _count ??= zeros(Sampler.Bins, dtype: ScalarType.Float64, device: device).DetachFromDisposeScope();
        var bins = (t.to(ScalarType.Float64).to(device) * Sampler.Bins).floor().clamp(0, Sampler.Bins - 1).to(ScalarType.Int64);
        using var one = 1.0.ToScalar();          // held: an implicit temporary Scalar can be finalized mid-call (TorchSharp#1434)
        _sum.index_add_(0, bins, loss.detach().to(ScalarType.Float64), one);
        _count.index_add_(0, bins, ones_like(loss, dtype: ScalarType.Float64), one);
    }

    /// <summary>Folds what was recorded since the last flush into the EMA (one read); nothing recorded = no update.</summary>
    public void Flush()
    {
        if (_sum is null || _count is null) return;
        using var scope = NewDisposeScope();
        var host = stack([_sum, _count]).cpu().data<double>().ToArray();
        _sum.Dispose(); _count.Dispose(); _sum = _count = null;
        int k = Sampler.Bins;
        var t = new List<double>();
        var loss = new List<double>();
        for (int b = 0; b < k; b++)
        {
            if (host[k + b] <= 0) continue;
            t.Add((b + 0.5) / k);                 // the bin's centre stands for its samples
            loss.Add(host[b] / host[k + b]);      // the bin's mean over the step
        }
        if (t.Count > 0) Sampler.Update([.. t], [.. loss]);
    }

    /// <summary>Replaces the sampler by a saved one (a resume); anything recorded since the last flush is dropped.</summary>
    public void Restore(AdaptiveTimestepSamplerState state)
    {
        _sum?.Dispose(); _count?.Dispose(); _sum = _count = null;
        Sampler = AdaptiveTimestepSampler.FromState(state);
    }

    public void Dispose()
    {
        _sum?.Dispose();
        _count?.Dispose();
    }
}

using OpenDllm.Sampling;
using OpenDllm.Sampling.Latent;
using OpenDllm.Tests.Devices;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Sampling.Latent;

/// <summary><see cref="LatentSampler"/>: seeds, self-conditioning (SPEC §6.6), the trajectory, validation, devices.</summary>
public class LatentSamplerTests
{
    const long K = 6, D = 4;
    const int Vocab = 9;

    static GaussianLatentDenoiser Gaussian() => new(K, D, mean: 0.3, std: 1.2);

    [Theory]
    [InlineData(LatentSamplerKind.Ddim)]
    [InlineData(LatentSamplerKind.Ddpm)]
    public void SameSeedIsBitIdenticalAndAnotherSeedDiffers(LatentSamplerKind kind)
    {
        using var scope = NewDisposeScope();
        using var decoder = new LinearLatentDecoder(K, D, Vocab);
        LatentGeneration Run(long seed) => new LatentSampler(new() { Kind = kind, Seed = seed, Steps = 8 }).Generate(Gaussian(), decoder, batch: 5);
        var a = Run(42);
        var b = Run(42);
        var c = Run(43);
        Assert.True(Fixture.Same(a.Tokens, b.Tokens), "same seed, different tokens");
        Assert.True(Fixture.Same(a.Latents, b.Latents), "same seed, different latents");
        Assert.False(Fixture.Same(a.Latents, c.Latents), "another seed gave the same latents");
        Assert.Equal([5, K], a.Tokens.shape);
        Assert.Equal(ScalarType.Int64, a.Tokens.dtype);
        Assert.Equal([5, K, D], a.Latents.shape);
        Assert.Equal(8, a.Forwards);
    }

    /// <summary>DDPM draws fresh noise each step, DDIM none: after the same z₁ their outputs differ.</summary>
    [Fact]
    public void DdpmAndDdimDiffer()
    {
        using var scope = NewDisposeScope();
        using var decoder = new LinearLatentDecoder(K, D, Vocab);
        var ddim = new LatentSampler(new() { Kind = LatentSamplerKind.Ddim, Seed = 3 }).Generate(Gaussian(), decoder, batch: 4);
        var ddpm = new LatentSampler(new() { Kind = LatentSamplerKind.Ddpm, Seed = 3 }).Generate(Gaussian(), decoder, batch: 4);
        Assert.True(Fixture.MaxAbsDiff(ddim.Latents, ddpm.Latents) > 1e-3);
    }

    /// <summary>SPEC §6.6 at sampling: zeros first, then the previous step's ẑ₀; the time grid 1 − i/N with t₀ clipped.</summary>
    [Theory]
    [InlineData(LatentSamplerKind.Ddim)]
    [InlineData(LatentSamplerKind.Ddpm)]
    public void SelfConditionIsZeroFirstThenThePreviousPrediction(LatentSamplerKind kind)
    {
        using var scope = NewDisposeScope();
        using var decoder = new LinearLatentDecoder(K, D, Vocab);
        using var spy = new SpyLatentDenoiser(Gaussian());
        const int steps = 5;
        var run = new LatentSampler(new() { Kind = kind, Steps = steps, Seed = 9 }).Generate(spy, decoder, batch: 3);
        Assert.Equal(steps, spy.Calls.Count);
        Assert.True(spy.Calls[0].SelfCondition.eq(0).all().item<bool>(), "first self-condition is not zeros");
        for (int i = 1; i < steps; i++)
            Assert.True(Fixture.Same(spy.Calls[i - 1].X0, spy.Calls[i].SelfCondition), $"step {i}: self-condition is not the previous ẑ₀");
        for (int i = 0; i < steps; i++)
        {
            float expected = (float)Math.Min(1.0 - (double)i / steps, 1 - 1e-5);
            Assert.True(spy.Calls[i].Time.eq(expected).all().item<bool>(), $"step {i}: time {spy.Calls[i].Time[0].item<float>()} ≠ {expected}");
        }
        Assert.True(Fixture.Same(spy.Calls[^1].X0, run.Latents), "the last step must return ẑ₀");
    }

    [Fact]
    public void WithoutSelfConditioningEveryCallGetsZeros()
    {
        using var scope = NewDisposeScope();
        using var decoder = new LinearLatentDecoder(K, D, Vocab);
        using var spy = new SpyLatentDenoiser(Gaussian());
        new LatentSampler(new() { Steps = 4, SelfCondition = false }).Generate(spy, decoder, batch: 2);
        Assert.All(spy.Calls, c => Assert.True(c.SelfCondition.eq(0).all().item<bool>()));
    }

    /// <summary>CanvasAfter(k) is the argmax decode of the k-th ẑ₀; the last is the returned tokens; step 1 decodes every
    /// position; later steps list only changes; recording does not change the result.</summary>
    [Theory]
    [InlineData(LatentSamplerKind.Ddim)]
    [InlineData(LatentSamplerKind.Ddpm)]
    public void TrajectoryReplaysTheDecodedText(LatentSamplerKind kind)
    {
        using var scope = NewDisposeScope();
        using var decoder = new LinearLatentDecoder(K, D, Vocab);
        using var spy = new SpyLatentDenoiser(Gaussian());
        const int steps = 12;
        const long maskId = Vocab;                                                         // never an argmax
        var settings = new LatentSamplerSettings { Kind = kind, Steps = steps, Seed = 4, RecordTrajectory = true };
        var run = new LatentSampler(settings).Generate(spy, decoder, batch: 3, maskIdForTrajectory: maskId);
        var plain = new LatentSampler(settings with { RecordTrajectory = false }).Generate(Gaussian(), decoder, batch: 3);

        var trajectory = Assert.IsType<Trajectory>(run.Trajectory);
        Assert.Equal(steps, trajectory.Steps.Count);
        Assert.Equal(maskId, trajectory.MaskId);
        Assert.All(trajectory.Initial, row => Assert.All(row, token => Assert.Equal(maskId, token)));
        Assert.Equal(3 * K, trajectory.Steps[0].Events.Count);
        for (int k = 1; k <= steps; k++)
        {
            var expected = SamplingHost(decoder.Logits(spy.Calls[k - 1].X0).argmax(-1));
            Assert.Equal(expected, trajectory.CanvasAfter(k));
            var previous = trajectory.CanvasAfter(k - 1);
            int changed = expected.Select((row, r) => row.Where((tok, j) => tok != previous[r][j]).Count()).Sum();
            Assert.Equal(changed, trajectory.Steps[k - 1].Events.Count);
        }
        Assert.Equal(SamplingHost(run.Tokens), trajectory.CanvasAfter(steps));
        Assert.True(Fixture.Same(plain.Tokens, run.Tokens), "recording changed the tokens");
        Assert.True(Fixture.Same(plain.Latents, run.Latents), "recording changed the latents");
        Assert.Null(plain.Trajectory);
        Assert.All(trajectory.Steps.SelectMany(s => s.Events), e => Assert.InRange(e.Confidence, 1f / Vocab, 1f));
    }

    [Fact]
    public void ClipX0ClampsThePredictionAndIsOffByDefault()
    {
        using var scope = NewDisposeScope();
        using var decoder = new LinearLatentDecoder(K, D, Vocab);
        var wide = new GaussianLatentDenoiser(K, D, mean: 0.0, std: 3.0);
        var clipped = new LatentSampler(new() { Seed = 1, ClipX0 = 0.5 }).Generate(wide, decoder, batch: 4);
        var free = new LatentSampler(new() { Seed = 1 }).Generate(wide, decoder, batch: 4);
        Assert.True(clipped.Latents.abs().max().item<float>() <= 0.5f);
        Assert.True(free.Latents.abs().max().item<float>() > 0.5f);
        Assert.Null(new LatentSamplerSettings().ClipX0);
    }

    [Theory]
    [InlineData(0, null, "steps must be ≥ 1, got 0")]
    [InlineData(10, 0.0, "clip_x0 must be finite and > 0 (or unset), got 0")]
    [InlineData(10, double.NaN, "clip_x0 must be finite and > 0 (or unset), got NaN")]
    public void InvalidSettingsNameTheField(int steps, double? clip, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => new LatentSampler(new() { Steps = steps, ClipX0 = clip }));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void InvalidCallsAreRefused()
    {
        using var decoder = new LinearLatentDecoder(K, D, Vocab);
        var sampler = new LatentSampler(new() { RecordTrajectory = true });
        Assert.StartsWith("record_trajectory needs maskIdForTrajectory",
                          Assert.Throws<ArgumentException>(() => sampler.Generate(Gaussian(), decoder, batch: 1)).Message);
        Assert.Equal("batch must be ≥ 1, got 0",
                     Assert.Throws<ArgumentException>(() => new LatentSampler().Generate(Gaussian(), decoder, batch: 0)).Message);
        Assert.Contains("kind must be ddpm or ddim",
                        Assert.Throws<ArgumentException>(() => new LatentSamplerSettings { Kind = (LatentSamplerKind)7 }.Validate()).Message);
        var wrongWidth = new GaussianLatentDenoiser(K, D + 1, 0, 1);
        using var longer = new LinearLatentDecoder(K + 1, D + 1, Vocab);                      // claims L = 7, returns 6 rows
        Assert.Contains("expected [1, 7, V]", Assert.Throws<InvalidOperationException>(
            () => new LatentSampler().Generate(wrongWidth, longer, batch: 1)).Message);
        Assert.Equal("the denoiser returned ẑ₀ of shape [2, 6] for latents [2, 6, 4]", Assert.Throws<InvalidOperationException>(
            () => new LatentSampler().Generate(new FlatDenoiser(), decoder, batch: 2)).Message);
    }

    /// <summary>A denoiser that drops the last dimension.</summary>
    sealed class FlatDenoiser : ILatentDenoiser
    {
        public long Latents => K;
        public long LatentDim => D;
        public Tensor PredictX0(Tensor noisy, Tensor time, Tensor selfCondition) => noisy.sum(-1);
    }

    /// <summary>The same seed on another device: the same draws (made on the CPU), latents equal up to float rounding.</summary>
    [Theory, OnCpu, OnCuda]
    public void DeviceRunMatchesTheCpu(string deviceName)
    {
        using var scope = NewDisposeScope();
        var device = TestDevices.Parse(deviceName);
        using var decoder = new LinearLatentDecoder(K, D, Vocab);
        var settings = new LatentSamplerSettings { Kind = LatentSamplerKind.Ddpm, Seed = 21, Steps = 6, RecordTrajectory = true };
        var cpu = new LatentSampler(settings).Generate(Gaussian(), decoder, batch: 4, maskIdForTrajectory: Vocab);
        var run = new LatentSampler(settings).Generate(Gaussian(), decoder, batch: 4, device: device, maskIdForTrajectory: Vocab);
        Assert.Equal(device.type, run.Latents.device.type);
        Assert.Equal(device.type, run.Tokens.device.type);
        Fixture.AssertClose(cpu.Latents, run.Latents.cpu(), 1e-4, "latents");
        Assert.Equal(SamplingHost(cpu.Tokens), SamplingHost(run.Tokens));
        Assert.Equal(settings.Steps, run.Trajectory!.Steps.Count);
    }

    static long[][] SamplingHost(Tensor tokens)
    {
        var flat = tokens.to(ScalarType.Int64).cpu().contiguous().data<long>().ToArray();
        int cols = (int)tokens.shape[1];
        return [.. Enumerable.Range(0, (int)tokens.shape[0]).Select(r => flat.AsSpan(r * cols, cols).ToArray())];
    }
}

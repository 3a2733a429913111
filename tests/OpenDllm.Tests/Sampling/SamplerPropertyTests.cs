using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Sampling;

/// <summary>Invariants every masked-diffusion sampler run must keep, over random canvases and settings.</summary>
public class SamplerPropertyTests
{
    public sealed record Setting(UnmaskingAlgorithm Algorithm, int Steps, double Temperature, int Seed, bool Infill, int[] Lengths, bool Shifted);

    static Arbitrary<Setting> Settings() =>
        (from alg in Gen.Elements(Enum.GetValues<UnmaskingAlgorithm>())
         from steps in Gen.Choose(1, 12)
         from temperature in Gen.Elements(0.0, 0.7)
         from seed in Gen.Choose(0, 1000)
         from infill in Gen.Elements(false, true)
         from rows in Gen.Choose(1, 3)
         from lengths in Gen.ArrayOf(Gen.Choose(1, 10), rows)
         from shifted in Gen.Elements(false, true)
         select new Setting(alg, steps, temperature, seed, infill, lengths, shifted)).ToArbitrary();

    static Canvas MakeCanvas(Setting s, long maskId)
    {
        var rng = new Random(s.Seed);
        long Token() => rng.Next(0, 90);
        if (!s.Infill)
            return Canvas.ForCompletion(s.Lengths.Select(n => (IReadOnlyList<long>)Enumerable.Range(0, 1 + n % 4).Select(_ => Token()).ToList()).ToList(),
                                        s.Lengths.Max(), maskId, padId: 97);
        return Canvas.ForInfill(s.Lengths.Select(n => ((IReadOnlyList<long>)Enumerable.Range(0, 1 + n % 3).Select(_ => Token()).ToList(), n,
                                                       (IReadOnlyList<long>)Enumerable.Range(0, n % 5).Select(_ => Token()).ToList())).ToList(),
                                maskId, padId: 97);
    }

    [Property(MaxTest = 60)]
    public Property OutputsKeepFixedTokensAndHoldNoMask()
    {
        return Prop.ForAll(Settings(), s =>
        {
            using var scope = NewDisposeScope();
            var denoiser = SamplingFixtures.RandomTiny(s.Shifted);
            var canvas = MakeCanvas(s, denoiser.MaskId);
            var sampler = new MaskedDiffusionSampler(new() { Algorithm = s.Algorithm, Steps = s.Steps, Temperature = s.Temperature, Seed = s.Seed, RecordTrajectory = true });
            var result = sampler.Sample(denoiser, canvas);
            var before = SamplingFixtures.Rows(canvas.Tokens);
            var after = SamplingFixtures.Rows(result.Sequences);
            bool noMask = after.All(r => r.All(t => t != denoiser.MaskId));
            bool fixedKept = Enumerable.Range(0, before.Length).All(r => Enumerable.Range(0, before[r].Length)
                .All(j => before[r][j] == denoiser.MaskId || before[r][j] == after[r][j]));
            var events = result.Trajectory!.Steps.SelectMany(st => st.Events).ToList();
            bool committedOnce = s.Algorithm == UnmaskingAlgorithm.P2
                                 || events.GroupBy(e => (e.Row, e.Position)).All(g => g.Count() == 1 && !g.Single().Remasked);
            bool forwardsCounted = result.Forwards == result.Trajectory.Steps.Count;
            bool noEmptySteps = s.Algorithm is UnmaskingAlgorithm.Origin or UnmaskingAlgorithm.P2
                                || result.Trajectory.Steps.All(st => st.Events.Count > 0);
            bool replay = result.Trajectory.CanvasAfter(result.Trajectory.Steps.Count).Zip(after).All(p => p.First.SequenceEqual(p.Second));
            return noMask.Label("no [MASK] in the output")
                .And(fixedKept.Label("fixed positions (prompt, suffix, padding) unchanged"))
                .And(committedOnce.Label("a committed token never changes (except under p2)"))
                .And(forwardsCounted.Label("one trajectory step per forward"))
                .And(noEmptySteps.Label("no forward is spent on an empty step"))
                .And(replay.Label("replaying the trajectory gives the output"))
                .Classify(s.Infill, "infill").Classify(s.Lengths.Length > 1, "batched").Classify(s.Shifted, "shifted");
        });
    }

    [Fact]
    public void SameSeedSameOutputDifferentSeedUsuallyDifferent()
    {
        using var scope = NewDisposeScope();
        var denoiser = SamplingFixtures.RandomTiny();
        var canvas = Canvas.ForCompletion([[1, 2, 3]], 12, denoiser.MaskId, 97);
        Tensor Run(long seed) => new MaskedDiffusionSampler(new() { Steps = 6, Temperature = 1.0, Seed = seed }).Sample(denoiser, canvas).Sequences;
        Assert.True(Fixture.Same(Run(5), Run(5)));
        Assert.False(Fixture.Same(Run(5), Run(6)));
    }

    [Fact]
    public void ShiftedModelRejectsACanvasStartingWithAMask()
    {
        using var scope = NewDisposeScope();
        var denoiser = SamplingFixtures.RandomTiny(shifted: true);
        var canvas = new Canvas(full(1, 5, denoiser.MaskId, dtype: ScalarType.Int64));
        Assert.Throws<ArgumentException>(() => new MaskedDiffusionSampler().Sample(denoiser, canvas));
    }

    [Fact]
    public void SamplingLeaksNoTensors()
    {
        var denoiser = SamplingFixtures.RandomTiny();
        using var canvasScope = NewDisposeScope();
        var canvas = Canvas.ForCompletion([[1, 2, 3], [4, 5, 6]], 16, denoiser.MaskId, 97);
        ISampler[] samplers = [new MaskedDiffusionSampler(new() { Steps = 16 }), new AutoregressiveSampler(),
                               new FastDllmSampler(new() { BlockLength = 4, Cache = FastDllmCache.Dual }),
                               new FastDllmSampler(new() { BlockLength = 4, Cache = FastDllmCache.Prefix })];
        foreach (var sampler in samplers)
        {
            using (NewDisposeScope()) sampler.Sample(denoiser, canvas);    // warm-up: lazy fixtures, generators
            long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            for (int i = 0; i < 5; i++)
                using (NewDisposeScope()) sampler.Sample(denoiser, canvas);
            Assert.True(live == DisposeScopeManager.Statistics.ThreadTotalLiveCount,
                $"{sampler.Name}: live tensors {live} → {DisposeScopeManager.Statistics.ThreadTotalLiveCount}");
        }
    }
}

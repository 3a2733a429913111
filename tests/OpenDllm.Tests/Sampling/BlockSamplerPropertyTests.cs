using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Sampling;

/// <summary>The invariants of <see cref="SamplerPropertyTests"/> for the block samplers (LLaDA semi-AR, BD3LM).</summary>
public class BlockSamplerPropertyTests
{
    public enum Kind { Llada, BlockDiffusionCached, BlockDiffusionUncached }

    public sealed record Setting(Kind Kind, int BlockLength, int Blocks, int StepsPerBlock, double Temperature, int Seed, int[] PromptLengths, bool Shifted, bool Random);

    static Arbitrary<Setting> Settings() =>
        (from kind in Gen.Elements(Enum.GetValues<Kind>())
         from blockLength in Gen.Choose(1, 4)
         from blocks in Gen.Choose(1, 3)
         from stepsPerBlock in Gen.Choose(1, 4)
         from temperature in Gen.Elements(0.0, 0.7)
         from seed in Gen.Choose(0, 1000)
         from rows in Gen.Choose(1, 3)
         from prompts in Gen.ArrayOf(Gen.Choose(1, 6), rows)
         from shifted in Gen.Elements(false, true)
         from random in Gen.Elements(false, true)
         select new Setting(kind, blockLength, blocks, stepsPerBlock, temperature, seed, prompts, shifted, random)).ToArbitrary();

    static ISampler Make(Setting s)
    {
        var remasking = s.Random ? RemaskingStrategy.Random : RemaskingStrategy.LowConfidence;
        return s.Kind == Kind.Llada
            ? new LladaSampler(new() { Steps = s.Blocks * s.StepsPerBlock, BlockLength = s.BlockLength, Temperature = s.Temperature,
                                       Remasking = remasking, Seed = s.Seed, RecordTrajectory = true })
            : new BlockDiffusionSampler(new() { BlockSize = s.BlockLength, Steps = s.Blocks * s.StepsPerBlock, Temperature = s.Temperature,
                                                Remasking = remasking, Seed = s.Seed, RecordTrajectory = true,
                                                UseCache = s.Kind == Kind.BlockDiffusionCached });
    }

    [Property(MaxTest = 60)]
    public Property OutputsKeepFixedTokensAndHoldNoMask()
    {
        return Prop.ForAll(Settings(), s =>
        {
            using var scope = NewDisposeScope();
            var denoiser = SamplingFixtures.RandomTiny(s.Shifted);
            var rng = new Random(s.Seed);
            var canvas = Canvas.ForCompletion(s.PromptLengths.Select(n => (IReadOnlyList<long>)Enumerable.Range(0, n).Select(_ => (long)rng.Next(0, 90)).ToList()).ToList(),
                                              s.BlockLength * s.Blocks, denoiser.MaskId, padId: 97);
            var result = Make(s).Sample(denoiser, canvas);
            var before = SamplingFixtures.Rows(canvas.Tokens);
            var after = SamplingFixtures.Rows(result.Sequences);
            var trajectory = result.Trajectory!;
            var events = trajectory.Steps.SelectMany(st => st.Events).ToList();
            bool noMask = after.All(r => r.All(t => t != denoiser.MaskId));
            bool fixedKept = Enumerable.Range(0, before.Length).All(r => Enumerable.Range(0, before[r].Length)
                .All(j => before[r][j] == denoiser.MaskId || before[r][j] == after[r][j]));
            bool committedOnce = events.GroupBy(e => (e.Row, e.Position)).All(g => g.Count() == 1 && !g.Single().Remasked);
            int prefixPasses = s.Kind == Kind.BlockDiffusionCached ? s.Blocks : 0;                   // every block has a prompt before it
            bool forwardsCounted = result.Forwards == trajectory.Steps.Count + prefixPasses;
            bool noEmptySteps = trajectory.Steps.All(st => st.Events.Count > 0);
            int width = before[0].Length, genStart = width - s.BlockLength * s.Blocks;
            bool oneBlockPerStep = trajectory.Steps.All(st => st.Events.Select(e => (e.Position - genStart) / s.BlockLength).Distinct().Count() == 1);
            bool replay = trajectory.CanvasAfter(trajectory.Steps.Count).Zip(after).All(p => p.First.SequenceEqual(p.Second));
            return noMask.Label("no [MASK] in the output")
                .And(fixedKept.Label("fixed positions (prompt, padding) unchanged"))
                .And(committedOnce.Label("a committed token never changes"))
                .And(forwardsCounted.Label("one trajectory step per decoding forward (+ one prefix pass per block with the cache)"))
                .And(noEmptySteps.Label("no forward is spent on an empty step"))
                .And(oneBlockPerStep.Label("a step commits inside one block"))
                .And(replay.Label("replaying the trajectory gives the output"))
                .Classify(s.PromptLengths.Length > 1, "batched").Classify(s.Shifted, "shifted").Classify(s.Blocks > 1, "several blocks");
        });
    }

    [Fact]
    public void SamplingLeaksNoTensors()
    {
        var denoiser = SamplingFixtures.RandomTiny(shifted: true);
        using var canvasScope = NewDisposeScope();
        var canvas = Canvas.ForCompletion([[1, 2, 3], [4, 5, 6, 7, 8]], 16, denoiser.MaskId, 97);
        ISampler[] samplers =
        [
            new LladaSampler(new() { Steps = 8, BlockLength = 4, Temperature = 0.5, EosId = 3, LogitsEosInf = true, RecordTrajectory = true }),
            new BlockDiffusionSampler(new() { BlockSize = 4, Steps = 8, Temperature = 0.5, EosId = 3, RecordTrajectory = true }),
            new BlockDiffusionSampler(new() { BlockSize = 4, Steps = 8, UseCache = false }),
        ];
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

using OpenDllm.Sampling;
using OpenDllm.Sampling.Transfer;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Sampling;

/// <summary>LLaDA semi-AR low-confidence remasking (SPEC §5.3): quotas, block confinement, EOS options, errors.</summary>
public class LladaSamplerTests
{
    /// <summary>Two infill rows aligned at the middle (column 2): row 0 has 8 masks (two blocks of 4, 3 steps each), row 1
    /// has 4 (one block, all 6 steps), so the rows' layouts differ as they do alone.</summary>
    static Canvas RaggedInfill(long maskId) =>
        Canvas.ForInfill([([1, 2], 8, [3]), ([4], 4, [5, 6])], maskId, padId: 97);

    /// <summary>Expected events per (step, row) when every all-zero step is skipped, and each step's block: row r has
    /// <c>layouts[r]</c> = (blocks, steps per block) of its own; a block runs as many steps as its longest row.</summary>
    static (int[][] PerStep, int[] Block) ExpectedSchedule(long[][] initial, long maskId, long start, int blockLength, (int Blocks, int Steps)[] layouts)
    {
        var perStep = new List<int[]>();
        var block = new List<int>();
        for (int blk = 0; blk < layouts.Max(l => l.Blocks); blk++)
        {
            long s = start + blk * blockLength;
            int steps = layouts.Max(l => blk < l.Blocks ? l.Steps : 0);
            var quotas = initial.Select((r, i) => blk < layouts[i].Blocks
                ? LladaTransferSchedule.Quotas(r.Skip((int)s).Take(blockLength).Count(t => t == maskId), layouts[i].Steps).Concat(new int[steps - layouts[i].Steps]).ToArray()
                : new int[steps]).ToArray();
            for (int i = 0; i < steps; i++)
                if (quotas.Any(q => q[i] > 0)) { perStep.Add(quotas.Select(q => q[i]).ToArray()); block.Add(blk); }
        }
        return (perStep.ToArray(), block.ToArray());
    }

    [Theory]
    [InlineData(false, 0.0, RemaskingStrategy.LowConfidence)]
    [InlineData(true, 0.0, RemaskingStrategy.LowConfidence)]
    [InlineData(false, 0.8, RemaskingStrategy.Random)]
    [InlineData(true, 0.8, RemaskingStrategy.LowConfidence)]
    public void QuotaPerStepPerBlockEqualsTheLladaScheduleAndCommitsStayInTheBlock(bool shifted, double temperature, RemaskingStrategy remasking)
    {
        using var scope = NewDisposeScope();
        var denoiser = SamplingFixtures.RandomTiny(shifted);
        var canvas = RaggedInfill(denoiser.MaskId);
        var result = new LladaSampler(new() { Steps = 6, BlockLength = 4, Temperature = temperature, Remasking = remasking, Seed = 4, RecordTrajectory = true })
            .Sample(denoiser, canvas);
        var trajectory = result.Trajectory!;
        var (perStep, block) = ExpectedSchedule(trajectory.Initial, denoiser.MaskId, start: 2, blockLength: 4, [(2, 3), (1, 6)]);

        Assert.Equal(perStep.Length, trajectory.Steps.Count);
        Assert.Equal(perStep.Length, result.Forwards);
        for (int i = 0; i < perStep.Length; i++)
        {
            var events = trajectory.Steps[i].Events;
            Assert.Equal(perStep[i], Enumerable.Range(0, 2).Select(r => events.Count(e => e.Row == r)).ToArray());
            long s = 2 + block[i] * 4;
            Assert.All(events, e => Assert.InRange(e.Position, s, s + 3));
            Assert.All(events, e => Assert.Equal(denoiser.MaskId, trajectory.Initial[e.Row][e.Position]));
        }
        var output = SamplingFixtures.Rows(result.Sequences);
        Assert.All(output, r => Assert.DoesNotContain(denoiser.MaskId, r));
        Assert.Equal(trajectory.CanvasAfter(trajectory.Steps.Count), output);
    }

    [Fact]
    public void DefaultIsOneBlockAndEveryStepAForward()
    {
        using var scope = NewDisposeScope();
        var denoiser = SamplingFixtures.RandomTiny();
        var canvas = Canvas.ForCompletion([[1, 2, 3]], 8, denoiser.MaskId, 97);
        var result = new LladaSampler(new() { Steps = 8, RecordTrajectory = true }).Sample(denoiser, canvas);
        Assert.Equal(8, result.Forwards);
        Assert.All(result.Trajectory!.Steps, st => Assert.Single(st.Events));
        Assert.Equal(128, new LladaOptions().Steps);
        Assert.Null(new LladaOptions().BlockLength);
        Assert.Equal(0.0, new LladaOptions().Temperature);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GreedyOneTokenPerStepCommitsTheMostConfidentMask(bool shifted)
    {
        using var scope = NewDisposeScope();
        var denoiser = SamplingFixtures.RandomTiny(shifted);
        var canvas = Canvas.ForCompletion([[1, 2, 3]], 6, denoiser.MaskId, 97);
        var result = new LladaSampler(new() { Steps = 6, RecordTrajectory = true }).Sample(denoiser, canvas);
        var first = result.Trajectory!.Steps[0].Events.Single();

        var logits = denoiser.Forward(new DenoiserInput(canvas.Tokens, OpenDllm.Attention.AttentionPolicy.Bidirectional)).Logits;
        if (shifted) logits = TokenChoice.AlignShiftedLogits(logits);
        logits.select(-1, denoiser.MaskId).fill_(double.NegativeInfinity);
        var probs = logits.softmax(-1).max(-1);                                         // values, indexes [1, T]
        long best = probs.values.narrow(1, 3, 6).argmax(1).item<long>() + 3;
        Assert.Equal(best, first.Position);
        Assert.Equal(probs.indexes[0, best].item<long>(), first.Token);
    }

    [Fact]
    public void LogitsEosInfRemovesEos()
    {
        using var scope = NewDisposeScope();
        var denoiser = SamplingFixtures.RandomTiny();
        var canvas = Canvas.ForCompletion([[1, 2, 3], [4, 5, 6]], 16, denoiser.MaskId, 97);
        var plain = SamplingFixtures.Rows(new LladaSampler(new() { Steps = 16, BlockLength = 8 }).Sample(denoiser, canvas).Sequences);
        long eos = plain.SelectMany(r => r.Skip(3)).GroupBy(t => t).MaxBy(g => g.Count())!.Key;  // the model's favourite token
        var suppressed = new LladaSampler(new() { Steps = 16, BlockLength = 8, EosId = eos, LogitsEosInf = true }).Sample(denoiser, canvas);
        Assert.All(SamplingFixtures.Rows(suppressed.Sequences), r => Assert.DoesNotContain(eos, r.Skip(3)));
    }

    [Fact]
    public void ConfidenceEosEotInfRanksEosAndEotBelowEveryOtherCandidate()
    {
        using var scope = NewDisposeScope();
        // rows: position 0 proposes 5 (EOS), 1 proposes 6 (EoT), 2 proposes 7, 3 is not masked
        var logits = full(1, 4, 10, -10.0f);
        for (int j = 0; j < 4; j++) logits[0, j, 5 + Math.Min(j, 2)] = tensor(j == 0 ? 9.0f : 1.0f);
        var masked = tensor(new[,] { { true, true, true, false } });
        var (proposal, confidence, rank) = LladaSampler.ProposeTokens(logits, masked, 0, RemaskingStrategy.LowConfidence,
                                                                     new TorchSharp.torch.Generator(1), [5, 6]);
        Assert.Equal(new long[] { 5, 6, 7, 7 }, proposal.data<long>().ToArray());
        var r = rank.data<double>().ToArray();
        Assert.True(r[2] > r[0] && r[2] > r[1], "a non-EOS candidate outranks EOS/EoT, even a more confident EOS");
        Assert.True(double.IsFinite(r[0]) && double.IsFinite(r[1]), "EOS/EoT stay candidates (committed last, not never)");
        Assert.Equal(double.NegativeInfinity, r[3]);
        Assert.True(confidence[0, 0].item<float>() > 0.9f, "the recorded confidence is the probability, not the rank");

        var denoiser = SamplingFixtures.RandomTiny();
        var canvas = Canvas.ForCompletion([[1, 2, 3]], 8, denoiser.MaskId, 97);
        var output = new LladaSampler(new() { Steps = 4, EosId = 7, EotId = 8, ConfidenceEosEotInf = true }).Sample(denoiser, canvas).Sequences;
        Assert.False(output.eq(denoiser.MaskId).any().item<bool>());
    }

    [Theory]
    [InlineData(12, 5, 6)]     // 12 % 5 ≠ 0
    [InlineData(12, 4, 7)]     // 3 blocks, 7 % 3 ≠ 0
    [InlineData(12, null, 0)]  // steps < 1 (options)
    public void RejectsBadBlockOrSteps(int genLength, int? blockLength, int steps)
    {
        using var scope = NewDisposeScope();
        var denoiser = SamplingFixtures.RandomTiny();
        var canvas = Canvas.ForCompletion([[1, 2]], genLength, denoiser.MaskId, 97);
        var ex = Record.Exception(() => new LladaSampler(new() { Steps = steps, BlockLength = blockLength }).Sample(denoiser, canvas));
        Assert.IsAssignableFrom<ArgumentException>(ex);
        Assert.Throws<ArgumentException>(() => new LladaSampler(new() { LogitsEosInf = true }));
    }

    /// <summary>In a batch each row's own layout is checked, and the error names the row: row 1's middle of 6 masks is not
    /// a multiple of block 4 (as it is not alone), although the batch's region (8 columns) is.</summary>
    [Fact]
    public void ABatchRowWhoseOwnLayoutIsBadIsNamed()
    {
        using var scope = NewDisposeScope();
        var denoiser = SamplingFixtures.RandomTiny();
        var canvas = Canvas.ForInfill([([1, 2], 8, [3]), ([4], 6, [5])], denoiser.MaskId, padId: 97);
        var ex = Assert.Throws<ArgumentException>(() => new LladaSampler(new() { Steps = 4, BlockLength = 4 }).Sample(denoiser, canvas));
        Assert.Equal("row 1: generation length 6 is not a multiple of the block length 4", ex.Message);
    }

    [Fact]
    public void SameSeedSameOutputDifferentSeedUsuallyDifferent()
    {
        using var scope = NewDisposeScope();
        var denoiser = SamplingFixtures.RandomTiny();
        var canvas = Canvas.ForCompletion([[1, 2, 3]], 12, denoiser.MaskId, 97);
        Tensor Run(long seed, RemaskingStrategy r) =>
            new LladaSampler(new() { Steps = 6, BlockLength = 4, Temperature = 1.0, Remasking = r, Seed = seed }).Sample(denoiser, canvas).Sequences;
        foreach (var r in Enum.GetValues<RemaskingStrategy>())
        {
            Assert.True(Fixture.Same(Run(5, r), Run(5, r)));
            Assert.False(Fixture.Same(Run(5, r), Run(6, r)));
        }
    }
}

using OpenDllm.Methods.DreamOn;
using OpenDllm.Sampling;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Sampling;

/// <summary>DreamOn's expand/delete mechanics (SPEC §5.7) on denoisers scripted by position, so every step can be checked by hand.</summary>
public sealed class DreamOnSamplerTests
{
    const int Vocab = 12;
    const long Mask = 10;
    static readonly DreamOnTokens Tokens = new(Expand: 8, Delete: 9);

    /// <summary>A denoiser whose logits at each position are log p of the distribution <c>rule(canvas, position)</c> gives
    /// (token → probability; the rest share what is left), whatever the canvas length; each row's canvas is its real
    /// tokens (key padding dropped). Honours <see cref="DenoiserInput.OutputPositions"/>. Counts its forwards.</summary>
    sealed class RuleDenoiser(Func<long[], int, (long Token, double P)> rule) : IDenoiser
    {
        public int Calls { get; private set; }
        public int VocabSize => Vocab;
        public long MaskId => Mask;
        public bool ShiftedLogits => false;

        public DenoiserOutput Forward(DenoiserInput input)
        {
            Calls++;
            long rows = input.Tokens.shape[0], width = input.Tokens.shape[1];
            var probabilities = new float[rows * width * Vocab];
            for (int r = 0; r < rows; r++)
            {
                var canvas = input.Tokens[r].data<long>().ToArray();
                if (input.KeyPadding is { } real) canvas = canvas.Take((int)real[r].sum().item<long>()).ToArray();
                for (int j = 0; j < canvas.Length; j++)
                {
                    var (token, p) = rule(canvas, j);
                    for (int v = 0; v < Vocab; v++) probabilities[(r * width + j) * Vocab + v] = (float)(v == token ? p : (1 - p) / (Vocab - 1));
                }
            }
            var logits = tensor(probabilities, [rows, width, Vocab]).clamp_min(1e-30f).log();
            return new DenoiserOutput(input.OutputPositions is { } selected ? logits[TensorIndex.Tensor(selected)] : logits);
        }
    }

    static DreamOnSampler Sampler(int maxMiddle = 64, bool trajectory = true) =>
        new(new DreamOnSamplerOptions { Tokens = Tokens, MaxMiddle = maxMiddle, Temperature = 0, TopP = null, RecordTrajectory = trajectory });

    static long[] Row(VariableInfillOutput o) => o.Output.Sequences[0].data<long>().ToArray();

    /// <summary>One mask predicted as &lt;expand&gt; becomes two masks; both are then filled: prefix 1, middle [5, 5], suffix 2.</summary>
    [Fact]
    public void AnExpandedMaskBecomesTwoMasks()
    {
        var denoiser = new RuleDenoiser((canvas, j) => canvas.Length == 3 ? (Tokens.Expand, 0.9) : (5, 0.9));
        var o = Sampler().Infill(denoiser, [1], 1, [2]);
        Assert.Equal([1L, 5, 5, 2], Row(o));
        Assert.Equal((1, 2, 1, 0), (o.MiddleStart, o.MiddleLength, o.Expansions, o.Deletions));
        Assert.Equal(3, o.Output.Forwards);
        Assert.Equal(3, denoiser.Calls);
    }

    /// <summary>
    /// &lt;delete&gt; removes its position and every still-masked middle position right of it: position 1 is filled with 7
    /// first (the surest), then position 2 predicts delete, which also removes the mask at 3; the suffix stays.
    /// </summary>
    [Fact]
    public void ADeleteRemovesItsPositionAndTheMasksRightOfIt()
    {
        var denoiser = new RuleDenoiser((canvas, j) => j switch { 1 => (7, 0.95), 2 => (Tokens.Delete, 0.9), _ => (4, 0.5) });
        var o = Sampler().Infill(denoiser, [1], 3, [2, 3]);
        Assert.Equal([1L, 7, 2, 3], Row(o));
        Assert.Equal((1, 0, 2), (o.MiddleLength, o.Expansions, o.Deletions));
        Assert.Equal(2, o.Output.Forwards);
    }

    /// <summary>
    /// The length budget: a model that always wants &lt;expand&gt; grows the middle to max_middle and no further, then its
    /// second choice fills every position: from 1 mask to 4 takes 3 expansions and 4 commits.
    /// </summary>
    [Fact]
    public void ExpansionStopsAtTheLengthBudget()
    {
        var denoiser = new RuleDenoiser((canvas, j) => (Tokens.Expand, 0.5));
        var o = Sampler(maxMiddle: 4).Infill(denoiser, [1], 1, [2]);
        Assert.Equal(4, o.MiddleLength);
        Assert.Equal(3, o.Expansions);
        Assert.Equal(7, o.Output.Forwards);
        Assert.DoesNotContain(Row(o), t => t == Tokens.Expand || t == Mask);
        Assert.Equal(6, Row(o).Length);
    }

    /// <summary>The trajectory replays the insertions and deletions: its final canvas is the sampler's output, and the
    /// commit order has one entry per final position.</summary>
    [Fact]
    public void TheTrajectoryReplaysInsertionsAndDeletions()
    {
        int call = 0;
        var denoiser = new RuleDenoiser((canvas, j) =>
        {
            if (j == 0) call++;
            return call switch { 1 => j == 1 ? (Tokens.Expand, 0.9) : (6, 0.2), 2 => j == 3 ? (Tokens.Delete, 0.9) : (6, 0.2), _ => (6, 0.9) };
        });
        var o = Sampler().Infill(denoiser, [1], 3, [2]);
        var t = o.Output.Trajectory!;
        Assert.Equal(Row(o), t.CanvasAfter(t.Steps.Count)[0]);
        Assert.Equal(Row(o).Length, t.CommitStep()[0].Length);
        Assert.Equal(Row(o).Length, t.LastConfidence()[0].Length);
        Assert.Equal([1L, Mask, Mask, Mask, 2], t.Initial[0]);
        Assert.Equal((1, 2), (o.Expansions, o.Deletions));                      // the delete at 3 also removed the mask at 4
        var reloaded = System.Text.Json.JsonSerializer.Deserialize<Trajectory>(t.ToJson(),
            new System.Text.Json.JsonSerializerOptions { PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower })!;
        Assert.Equal(Row(o), reloaded.CanvasAfter(reloaded.Steps.Count)[0]);
    }

    /// <summary>Fixed-length trajectories are written as before: the new fields are left out when false.</summary>
    [Fact]
    public void EventsWithoutInsertionsOrDeletionsKeepTheirJson()
    {
        var t = new Trajectory(Mask, [[1, Mask]], [new TrajectoryStep(0, [new TokenEvent(0, 1, 4, 0.5f)])]);
        Assert.DoesNotContain("inserted", t.ToJson());
        Assert.DoesNotContain("deleted", t.ToJson());
    }

    /// <summary>
    /// A batch runs one forward per step over the rows still decoding, and each row ends as it ends alone: the rule expands
    /// while a canvas is shorter than 6 tokens, then fills with 5: a row of 5 tokens with 1 mask expands once (3 forwards),
    /// a row of 6 needs no expansion (1 forward), a row of 5 with 2 masks expands once (4 forwards). The batch takes 4
    /// forwards in all: the second row leaves after the first step, the first after the third.
    /// </summary>
    [Fact]
    public void ABatchDecodesEachRowAsAloneWithOneForwardPerStep()
    {
        var rule = new RuleDenoiser((canvas, j) => canvas.Length < 6 ? (Tokens.Expand, 0.9) : (5, 0.9));
        var rows = new List<VariableInfillRow> { new([1, 1], 1, [2, 2]), new([1, 1, 1], 1, [2, 2]), new([3], 2, [4, 4]) };
        var together = Sampler().InfillBatch(rule, rows);
        Assert.Equal(4, rule.Calls);
        var alone = rows.Select(r => Sampler().InfillBatch(new RuleDenoiser((canvas, j) => canvas.Length < 6 ? (Tokens.Expand, 0.9) : (5, 0.9)), [r])[0]).ToList();
        Assert.Equal([1L, 1, 5, 5, 2, 2], Row(together[0]));
        Assert.Equal([1L, 1, 1, 5, 2, 2], Row(together[1]));
        Assert.Equal([3, 1, 4], together.Select(o => o.Output.Forwards));
        for (int r = 0; r < rows.Count; r++)
        {
            Assert.Equal(Row(alone[r]), Row(together[r]));
            Assert.Equal((alone[r].MiddleLength, alone[r].Expansions, alone[r].Output.Forwards),
                         (together[r].MiddleLength, together[r].Expansions, together[r].Output.Forwards));
            var t = together[r].Output.Trajectory!;
            Assert.Equal(Row(together[r]), t.CanvasAfter(t.Steps.Count)[0]);
        }
    }

    /// <summary>Sampling at temperature &gt; 0 is a function of the seed.</summary>
    [Fact]
    public void TheSameSeedGivesTheSameMiddle()
    {
        var random = new RuleDenoiser((canvas, j) => ((j * 7 + canvas.Length) % 3 == 0 ? Tokens.Expand : (j * 5 + canvas.Length) % 7, 0.3));
        DreamOnSampler Seeded(long seed) => new(new DreamOnSamplerOptions { Tokens = Tokens, MaxMiddle = 16, Temperature = 1.0, TopP = null, AlgTemp = 0.5, Seed = seed });
        var runs = Enumerable.Range(0, 6).Select(s => Row(Seeded(s % 3).Infill(random, [1], 4, [2]))).ToList();
        for (int s = 0; s < 3; s++) Assert.Equal(runs[s], runs[s + 3]);
        Assert.True(runs.Take(3).Distinct(new RowComparer()).Count() > 1, "different seeds should give different middles");
    }

    sealed class RowComparer : IEqualityComparer<long[]>
    {
        public bool Equals(long[]? a, long[]? b) => a!.SequenceEqual(b!);
        public int GetHashCode(long[] a) => a.Length;
    }

    [Fact]
    public void BadSettingsAreRefusedWithTheirNames()
    {
        Assert.Contains("max_middle", Assert.Throws<ArgumentException>(() => Sampler(maxMiddle: 0)).Message);
        var denoiser = new RuleDenoiser((_, _) => (4, 0.9));
        Assert.Contains("initial middle length 5", Assert.Throws<ArgumentOutOfRangeException>(() => Sampler(maxMiddle: 4).Infill(denoiser, [1], 5, [2])).Message);
        Assert.Contains("cannot drive variable-length", Assert.Throws<ArgumentException>(() => DreamOnSamplerOptions.ConfidenceFor("p2")).Message);
        var tooBig = new DreamOnSampler(new DreamOnSamplerOptions { Tokens = new(12, 13) });
        Assert.Contains("vocab_size 12", Assert.Throws<ArgumentException>(() => tooBig.Infill(denoiser, [1], 1, [2])).Message);
    }
}

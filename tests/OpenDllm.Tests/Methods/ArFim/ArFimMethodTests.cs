using OpenDllm.Experiments;
using OpenDllm.Inference;
using OpenDllm.Methods.ArFim;
using OpenDllm.Tests.Training;
using OpenDllm.Training;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Methods.ArFim;

/// <summary>AR+FIM as a training method: recipe keys, the batch transformation, a short real run and its infilling.</summary>
public sealed class ArFimMethodTests : IDisposable
{
    readonly TrainingFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    [Theory]
    [InlineData("--train.fim.rate=1.5", "train.fim.rate")]
    [InlineData("--train.fim.rate=-0.1", "train.fim.rate")]
    [InlineData("--train.fim.spm_rate=0.5", "spm_rate")]
    [InlineData("--data.packing=chunks", "data.packing")]
    [InlineData("--train.path_loss=plain", "train.path_loss")]
    public void BadOptionsAreErrorsNamingTheKey(string option, string named)
    {
        const string yaml = "model: {preset: tiny}\ndata: {seq_len: 32}\ntrain: {objective: ar_fim, fim: {rate: 0.5}}";
        var e = Assert.ThrowsAny<Exception>(() => Recipe.Parse(yaml, "r.yaml", [option]));
        Assert.Contains(named, e.Message);
    }

    [Fact]
    public void FimOptionsAreRefusedForOtherMethodsAndDefaultToHalf()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Recipe.Parse("model: {preset: tiny}\ntrain: {objective: ar, fim: {rate: 0.5}}", "r.yaml"));
        Assert.Contains("train.fim", e.Message);
        Assert.Equal(0.5, new FimOptions().Rate);
        Assert.Equal(0.9, Recipe.Parse("model: {preset: tiny}\ntrain: {objective: ar_fim, fim: {rate: 0.9}}", "r.yaml").Train.Fim!.Rate);
    }

    [Fact]
    public void TransformKeepsRowsAndDocumentsAndUndoesPieceByPiece()
    {
        using var trainer = Trainer.Create(_fixture.Recipe(Path.Combine(_fixture.Root, "t"), "ar_fim", 1, "--train.fim.rate=1"));
        var method = Assert.IsType<ArFimMethod>(trainer.Method);
        var fim = new FimTokens(259, 261, 260, 256);
        using var scope = NewDisposeScope();
        // two rows: a document that ends (EOS) then one cut by the row's end; one document filling the row
        long[] row0 = [.. Enumerable.Range(10, 12).Select(i => (long)i), 256, .. Enumerable.Range(40, 11).Select(i => (long)i)];
        long[] row1 = [.. Enumerable.Range(60, 24).Select(i => (long)i)];
        long[] docs0 = [.. Enumerable.Repeat(0L, 13), .. Enumerable.Repeat(1L, 11)], docs1 = [.. Enumerable.Repeat(0L, 24)];
        var tokens = tensor(row0.Concat(row1).ToArray(), [2, 24]);
        var documents = tensor(docs0.Concat(docs1).ToArray(), [2, 24]);
        var (fimTokens, share) = method.Transform(tokens, documents, seed: 5);
        var (again, _) = method.Transform(tokens, documents, seed: 5);
        Assert.True(Fixture.Same(fimTokens, again));                                   // seeded
        Assert.Equal([2L, 24], fimTokens.shape);
        var flat = fimTokens.data<long>().ToArray();
        var pieces = new[] { (Start: 0, Length: 13, Content: row0[..12], Eos: true), (Start: 13, Length: 11, Content: row0[13..], Eos: false),
                             (Start: 24, Length: 24, Content: row1, Eos: false) };
        int transformed = 0;
        foreach (var p in pieces)
        {
            var piece = flat.AsSpan(p.Start, p.Length);
            if (piece[0] != fim.Prefix) { Assert.Equal(p.Content.Concat(p.Eos ? [256L] : []), piece.ToArray()); continue; }
            transformed++;
            Assert.Equal(256, piece[^1]);
            Assert.Equal(p.Content[..^FimTransform.OverflowTokens(p.Eos)], FimTransform.FromPsm(piece, fim));
        }
        Assert.Equal(transformed / 3.0, share, 9);
        Assert.True(transformed > 0);                                                  // rate 1: only a too-short suffix refuses
    }

    [Fact]
    public void TrainsAndFillsAtOracleAndUnknownLengthAndComparesWithMdlm()
    {
        var arOut = Path.Combine(_fixture.Root, "arfim");
        using (var trainer = Trainer.Create(_fixture.Recipe(arOut, "ar_fim", 4, "--train.eval_every=2")))
        {
            var summary = trainer.Run();
            Assert.Equal("val_nll_bits", summary.Last!.Metric);
        }
        Assert.Contains("\"fim_share\"", File.ReadAllText(Path.Combine(arOut, MetricsLog.FileName)));

        var pipeline = DiffusionPipeline.Load(CheckpointStore.Latest(arOut)!);
        try
        {
            var oracle = FimInfill.Infill(pipeline, "def f(x):\n    return ", "\n", 5, untilEos: false);
            Assert.Equal(5, oracle.Output.Forwards);                                   // exactly n tokens generated
            Assert.True(oracle.Ids.Length <= 5);
            var open = FimInfill.Infill(pipeline, "def f(x):\n    return ", "\n", 7, untilEos: true);
            Assert.InRange(open.Output.Forwards, 1, 7);
            Assert.DoesNotContain(256L, open.Ids);
            Assert.Equal(259, FimInfill.Prompt(pipeline, "a", "b")[0]);
            Assert.Equal([259L, 97, 261, 98, 260], FimInfill.Prompt(pipeline, "a", "b"));
        }
        finally { pipeline.Model.Dispose(); }

        var mdlmOut = Path.Combine(_fixture.Root, "mdlm");
        using (var trainer = Trainer.Create(_fixture.Recipe(mdlmOut, "mdlm", 4, "--train.eval_every=2"))) trainer.Run();
        var comparison = RunComparison.Compare([("mdlm", mdlmOut), ("arfim", arOut)],
            new ComparisonOptions(InfillTasks: 2, Sampler: "fast-dllm-dual", FixedLengths: [4, 8], MaxMiddleTokens: 12));
        Assert.Equal("val_nelbo_bits / val_nll_bits", comparison.Metric);
        var (m, a) = (comparison.Runs[0], comparison.Runs[1]);
        Assert.Equal(("oracle", "fast-dllm-dual"), (m.OracleInfill!.Protocol, m.OracleInfill.Sampler));
        Assert.Equal(("average_fixed", 4), (m.UnknownLengthInfill!.Protocol, m.UnknownLengthInfill.Middles));   // 2 tasks × 2 lengths
        Assert.Equal(2 * 4 + 2 * 8, m.UnknownLengthInfill.GeneratedTokens);
        Assert.Equal(("oracle", "ar"), (a.OracleInfill!.Protocol, a.OracleInfill.Sampler));
        Assert.Equal(("until_eos", 2), (a.UnknownLengthInfill!.Protocol, a.UnknownLengthInfill.Middles));
        Assert.InRange(a.UnknownLengthInfill.GeneratedTokens, 2, 24);
        foreach (var s in new[] { m.OracleInfill, m.UnknownLengthInfill, a.OracleInfill, a.UnknownLengthInfill })
        {
            Assert.InRange(s.Exact, 0, 1);
            Assert.InRange(s.TokenAccuracy, 0, 1);
            Assert.True(s.TokensPerSecond > 0);
        }
        Assert.Equal(m.OracleInfill.GeneratedTokens, a.OracleInfill.GeneratedTokens);   // oracle: the same middles' lengths
        var table = comparison.ToInfillMarkdown();
        Assert.Contains("| arfim | ar_fim | unknown | until_eos | ar |", table);
        Assert.Contains("| mdlm | mdlm | unknown | average_fixed | fast-dllm-dual |", table);
        Assert.NotNull(comparison.ToJson()["runs"]![1]!["infill_unknown_length"]);
    }
}

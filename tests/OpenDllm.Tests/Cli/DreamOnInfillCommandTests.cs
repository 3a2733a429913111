using OpenDllm.Sampling;
using OpenDllm.Tests.Training;
using OpenDllm.Training;

namespace OpenDllm.Tests.Cli;

/// <summary>
/// `opendllm infill … --length-mode oracle|fixed|variable` and `eval infill-lengths`: a DreamOn checkpoint fills at variable
/// length (trajectory included); a checkpoint without the tokens, and options of the wrong mode, are one-line errors.
/// </summary>
[Collection("Console")]
public sealed class DreamOnInfillCommandTests : IClassFixture<DreamOnInfillCommandTests.Checkpoints>
{
    /// <summary>One 1-step MDLM and one 1-step DreamOn checkpoint of the tiny model (byte tokenizer; DreamOn with 264 rows).</summary>
    public sealed class Checkpoints : IDisposable
    {
        public Checkpoints()
        {
            using (var mdlm = Trainer.Create(Fixture.Recipe(Path.Combine(Fixture.Root, "mdlm"), steps: 1)))
                Mdlm = mdlm.Run().Checkpoint!;
            using var dreamon = Trainer.Create(Fixture.Recipe(Path.Combine(Fixture.Root, "dreamon"), "dreamon", 1,
                "--model.config.vocab_size=264", "--train.dreamon.max_middle_tokens=16"));
            DreamOn = dreamon.Run().Checkpoint!;
            Prefix = Path.Combine(Fixture.Root, "prefix.py");
            Suffix = Path.Combine(Fixture.Root, "suffix.py");
            Middle = Path.Combine(Fixture.Root, "middle.py");
            File.WriteAllText(Prefix, "def f(x):\n    ");
            File.WriteAllText(Suffix, "\n\nprint(f(2))\n");
            File.WriteAllText(Middle, "return x * 2");
        }

        public TrainingFixture Fixture { get; } = new();
        public string Mdlm { get; }
        public string DreamOn { get; }
        public string Prefix { get; }
        public string Suffix { get; }
        public string Middle { get; }
        public void Dispose() => Fixture.Dispose();
    }

    readonly Checkpoints _c;
    readonly Xunit.Abstractions.ITestOutputHelper _output;
    public DreamOnInfillCommandTests(Checkpoints c, Xunit.Abstractions.ITestOutputHelper output) => (_c, _output) = (c, output);

    string[] Infill(string checkpoint, params string[] more) => ["infill", checkpoint, "--prefix-file", _c.Prefix, "--suffix-file", _c.Suffix, .. more];

    [Fact]
    public void VariableLengthRunsOnADreamOnCheckpointAndRecordsItsTrajectory()
    {
        var trajectory = Path.Combine(_c.Fixture.Root, $"t-{Guid.NewGuid():N}.json");
        var (code, _, err) = CliCapture.Run(Infill(_c.DreamOn, "--length-mode", "variable", "--length", "3", "--max-middle", "8", "--trajectory", trajectory));
        Assert.True(code == 0, err);
        Assert.Contains("sampler dreamon/entropy", err);
        Assert.Matches(@"middle 3 -> \d+ positions", err);
        var t = Trajectory.Load(trajectory);
        Assert.True(t.Steps.Count >= 1);
        Assert.Equal(t.CanvasAfter(t.Steps.Count)[0].Length, t.CommitStep()[0].Length);
    }

    [Fact]
    public void ADreamOnCheckpointsPipelineSuppressesItsEditTokensForFixedLengthSamplers()
    {
        var dreamOn = OpenDllm.Inference.DiffusionPipeline.Load(_c.DreamOn);
        Assert.Equal(new EditTokenIds(262, 263), dreamOn.EditTokens);
        var suppressing = Assert.IsType<SuppressedTokensDenoiser>(dreamOn.Denoiser);
        Assert.Equal([262L, 263L], suppressing.Suppressed);
        Assert.Same(suppressing.Inner, dreamOn.EditingDenoiser);                   // what the variable-length sampler reads
        var mdlm = OpenDllm.Inference.DiffusionPipeline.Load(_c.Mdlm);
        Assert.Null(mdlm.EditTokens);
        Assert.Same(mdlm.Denoiser, mdlm.EditingDenoiser);
    }

    [Fact]
    public void OracleCountsTheMiddleFilesTokensAndFixedUsesLength()
    {
        var oracle = CliCapture.Run(Infill(_c.DreamOn, "--length-mode", "oracle", "--middle-file", _c.Middle));
        Assert.True(oracle.Code == 0, oracle.Err);
        // "return x * 2" is 12 byte tokens: at most 12 forwards (one step per token, zero-quota steps skipped), not --length's 32
        int forwards = int.Parse(System.Text.RegularExpressions.Regex.Match(oracle.Err, @"(\d+) forwards").Groups[1].Value);
        Assert.InRange(forwards, 1, 12);
        var fixedRun = CliCapture.Run(Infill(_c.Mdlm, "--length", "5", "--steps", "5"));
        Assert.True(fixedRun.Code == 0, fixedRun.Err);
    }

    [Theory]
    [InlineData("variable", "train.objective: mdlm")]
    public void AVariableLengthOnACheckpointWithoutTheTokensIsAClearError(string mode, string expected)
    {
        var (code, _, err) = CliCapture.Run(Infill(_c.Mdlm, "--length-mode", mode));
        Assert.Equal(1, code);
        Assert.Contains(expected, err);
        Assert.Contains("needs a checkpoint trained with train.objective: dreamon", err);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Theory]
    [InlineData("--length-mode", "oracle")]                                                   // no --middle-file
    [InlineData("--length-mode", "fixed", "--middle-file", "MIDDLE")]
    [InlineData("--length-mode", "fixed", "--max-middle", "8")]
    [InlineData("--length-mode", "variable", "--steps", "4")]
    [InlineData("--length-mode", "variable", "--length", "80")]
    [InlineData("--length-mode", "variable", "--sampler", "p2")]
    [InlineData("--length-mode", "sideways")]
    public void OptionsOfAnotherModeAreRefused(params string[] args)
    {
        var (code, _, err) = CliCapture.Run(Infill(_c.DreamOn, [.. args.Select(a => a == "MIDDLE" ? _c.Middle : a)]));
        Assert.NotEqual(0, code);
        Assert.False(string.IsNullOrWhiteSpace(err));
    }

    [Fact]
    public void InfillLengthsScoresAllThreeProtocolsOnHeldOutLines()
    {
        var shards = Path.Combine(_c.Fixture.Root, "shards");
        var (code, output, err) = CliCapture.Run("eval", "infill-lengths", "--checkpoint", _c.DreamOn, "--shards", shards, "--tasks", "2",
                                                 "--fixed-lengths", "2,4", "--max-middle", "8");
        Assert.True(code == 0, err);
        Assert.Contains("oracle", output);
        Assert.Contains("fixed:2,4", output);
        Assert.Contains("variable:4", output);
        Assert.Contains("generated tokens in", output);
        var batched = CliCapture.Run("eval", "infill-lengths", "--checkpoint", _c.DreamOn, "--shards", shards, "--tasks", "3",
                                     "--protocols", "variable", "--max-middle", "8", "--batch-size", "2");
        Assert.True(batched.Code == 0, batched.Err);
        Assert.Contains("batch 2", batched.Out);
        var notBatched = CliCapture.Run("eval", "infill-lengths", "--checkpoint", _c.DreamOn, "--shards", shards, "--tasks", "2",
                                        "--protocols", "oracle", "--batch-size", "2");
        Assert.Equal(1, notBatched.Code);
        Assert.Contains("only the variable protocol decodes in batches", notBatched.Err);
        var refused = CliCapture.Run("eval", "infill-lengths", "--checkpoint", _c.Mdlm, "--shards", shards, "--tasks", "2");
        Assert.Equal(1, refused.Code);
        Assert.Contains("train.objective: mdlm", refused.Err);
    }

    /// <summary>`eval humaneval-infill --lengths variable` fills with the DreamOn sampler and records the protocol; a checkpoint
    /// without the tokens is refused before any generation.</summary>
    [Fact]
    public void HumanEvalInfillRunsTheVariableProtocol()
    {
        if (!OpenDllm.Tests.Evaluation.BenchmarkTestData.TryGetDirectory(_output, out var data)) return;
        var outDir = Path.Combine(_c.Fixture.Root, $"eval-{Guid.NewGuid():N}");
        var (code, output, err) = CliCapture.Run("eval", "humaneval-infill", "--checkpoint", _c.DreamOn, "--data", data, "--out", outDir,
                                                 "--limit", "1", "--lengths", "variable:2", "--max-middle", "6", "--sampler", "entropy");
        Assert.True(code == 0, err + output);
        Assert.True(File.Exists(Path.Combine(outDir, "samples_var2.jsonl")));
        var results = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "results.json")))!;
        Assert.Equal("variable:2", (string?)results["infill_length"]);
        Assert.Equal(6, (int?)results["dreamon_max_middle"]);
        var batchedDir = outDir + "-batch";
        var batched = CliCapture.Run("eval", "humaneval-infill", "--checkpoint", _c.DreamOn, "--data", data, "--out", batchedDir,
                                     "--limit", "3", "--lengths", "variable:2", "--max-middle", "6", "--sampler", "entropy", "--batch-size", "2");
        Assert.True(batched.Code == 0, batched.Err + batched.Out);
        Assert.Equal(3, File.ReadAllLines(Path.Combine(batchedDir, "samples_var2.jsonl")).Length);
        Assert.Equal(2, (int?)System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(batchedDir, "results.json")))!["batch_size"]);
        var refused = CliCapture.Run("eval", "humaneval-infill", "--checkpoint", _c.Mdlm, "--data", data, "--out", outDir + "-mdlm",
                                     "--limit", "1", "--lengths", "variable");
        Assert.Equal(1, refused.Code);
        Assert.Contains("train.objective: mdlm", refused.Err);
        Assert.Equal(1, CliCapture.Run("eval", "humaneval-infill", "--checkpoint", _c.DreamOn, "--data", data, "--out", outDir + "-bad",
                                       "--limit", "1", "--lengths", "variable:100").Code);            // beyond --max-middle 64
    }
}

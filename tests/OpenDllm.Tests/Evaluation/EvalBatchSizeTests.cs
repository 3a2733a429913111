using System.Text.Json.Nodes;
using OpenDllm.Cli;
using OpenDllm.Config;
using OpenDllm.Inference;
using OpenDllm.Models;
using OpenDllm.Sampling;
using OpenDllm.Tokenization;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Evaluation;

/// <summary>
/// Batched generation (<c>eval … --batch-size N</c>, <see cref="DiffusionPipeline.CompleteBatch"/>,
/// <see cref="DiffusionPipeline.InfillBatch"/>): prompts of different lengths, and infill rows of different prefix, middle and
/// suffix lengths, decoded together give each row's batch-1 text under greedy decoding, and the CLI records the batch size
/// and refuses a bad one.
/// </summary>
[Collection("Console")]
public sealed class EvalBatchSizeTests(ITestOutputHelper output) : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-batch-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>A random tiny model in float64 with the byte tokenizer (float64: see <see cref="Sampling.RaggedBatchPropertyTests"/>).</summary>
    static DiffusionPipeline TinyPipeline(bool shifted) =>
        new(new Qwen2Model(ModelConfig.Tiny with { VocabSize = ByteTokenizer.Instance.VocabSize, MaxPositionEmbeddings = 256 }, dtype: ScalarType.Float64)
                .InitializeWeights(seed: 4, std: 0.3).WithDiffusionSettings(shiftedLogits: shifted),
            ByteTokenizer.Instance);

    [Theory]
    [InlineData("maskgit_plus", false)]
    [InlineData("fast-dllm-dual", true)]
    [InlineData("ar", true)]
    public void BatchedCompletionsEqualOneAtATime(string sampler, bool shifted)
    {
        using var scope = NewDisposeScope();
        var pipeline = TinyPipeline(shifted);
        string[] prompts = ["def f(x):\n    return", "x", "import os\nprint(", ""];
        var settings = new SamplerSettings { Steps = 8, BlockLength = 4 };
        var together = pipeline.CompleteBatch(prompts, 8, SamplerFactory.Create(sampler, settings));
        Assert.Equal(prompts.Length, together.Count);
        for (int i = 0; i < prompts.Length; i++)
        {
            var alone = pipeline.Complete(prompts[i], 8, SamplerFactory.Create(sampler, settings));
            Assert.Equal(alone.Ids, together[i].Ids);
            Assert.Equal(alone.Text, together[i].Text);
        }
    }

    /// <summary>
    /// Variable-length (DreamOn) infills of gaps with different prefixes, suffixes and initial lengths, decoded together
    /// (<see cref="VariableInfill.InfillBatch"/>), give each request its batch-1 middle, greedy and sampled (a seed per row),
    /// on a float64 byte-tokenizer model with two edit rows.
    /// </summary>
    [Theory]
    [InlineData(0.0, false)]
    [InlineData(1.0, true)]
    public void BatchedVariableMiddlesEqualOneAtATime(double temperature, bool shifted)
    {
        using var scope = NewDisposeScope();
        int bytes = ByteTokenizer.Instance.VocabSize;
        var pipeline = new DiffusionPipeline(new Qwen2Model(ModelConfig.Tiny with { VocabSize = bytes + 2, MaxPositionEmbeddings = 256 }, dtype: ScalarType.Float64)
                .InitializeWeights(seed: 6, std: 0.3).WithDiffusionSettings(shiftedLogits: shifted), ByteTokenizer.Instance);
        var sampler = new DreamOnSampler(new DreamOnSamplerOptions
        {
            Tokens = new EditTokenIds(bytes, bytes + 1), MaxMiddle = 8, Temperature = temperature, TopP = temperature > 0 ? 0.9 : null,
        });
        VariableInfillRequest[] requests =
        [
            new("def f(x):\n    return ", "\n", 3), new("", "print(1)\n", 1, Seed: 5), new("import os\nos.", "()", 6, Seed: 9),
        ];
        var together = pipeline.InfillBatch(requests, sampler);
        for (int i = 0; i < requests.Length; i++)
        {
            var alone = pipeline.InfillBatch([requests[i]], sampler)[0];
            Assert.Equal(alone.Generation.Output.Sequences.data<long>().ToArray(), together[i].Generation.Output.Sequences.data<long>().ToArray());
            Assert.Equal(alone.Generation.Text, together[i].Generation.Text);
            Assert.Equal((alone.Detail.MiddleLength, alone.Detail.Output.Forwards), (together[i].Detail.MiddleLength, together[i].Detail.Output.Forwards));
        }
    }

    /// <summary>Infill rows of unequal prefix, suffix and middle lengths (<see cref="DiffusionPipeline.InfillBatch"/>) give each
    /// row's batch-1 middle with every sampler that takes infill canvases, caches included.</summary>
    [Theory]
    [InlineData("maskgit_plus", false)]
    [InlineData("llada", true)]
    [InlineData("fast-dllm-nocache", false)]
    [InlineData("fast-dllm-prefix", true)]
    [InlineData("fast-dllm-dual", true)]
    [InlineData("fast-dllm-dkv", false)]
    public void BatchedInfillsEqualOneAtATime(string sampler, bool shifted)
    {
        using var scope = NewDisposeScope();
        var pipeline = TinyPipeline(shifted);
        (string, string, int)[] rows = [("def f(x):\n    return ", "\n\nprint(f(2))", 6), ("x = ", "", 3), ("import os\n", "(os.sep)", 9), ("", "y", 3)];
        var settings = new SamplerSettings { Steps = 6, BlockLength = 3, Threshold = 0.5 };
        var together = pipeline.InfillBatch(rows, SamplerFactory.Create(sampler, settings));
        Assert.Equal(rows.Length, together.Count);
        for (int i = 0; i < rows.Length; i++)
        {
            var alone = pipeline.Infill(rows[i].Item1, rows[i].Item2, rows[i].Item3, SamplerFactory.Create(sampler, settings));
            Assert.Equal(alone.Span, together[i].Span);
            Assert.Equal(alone.Text, together[i].Text);
        }
    }

    /// <summary><c>eval humaneval-infill --batch-size 2</c> writes the same samples as batch 1 in greedy mode, at oracle and at
    /// fixed lengths, with a sampler that takes one step per token (batches then group equal middle lengths) and with Fast-dLLM.</summary>
    [Theory]
    [InlineData("maskgit_plus", "oracle")]
    [InlineData("maskgit_plus", "3,5")]
    [InlineData("fast-dllm-dual", "oracle")]
    public void InfillEvalAtBatchTwoWritesTheSamplesOfBatchOne(string sampler, string lengths)
    {
        if (!BenchmarkTestData.TryGetDirectory(output, out var data)) return;
        var checkpoint = TinyCheckpoint();
        string Samples(int batch)
        {
            var outDir = Path.Combine(_dir, $"infill-{batch}");
            var (code, text, err) = Run("eval", "humaneval-infill", "--checkpoint", checkpoint, "--data", data, "--out", outDir, "--limit", "6",
                                        "--sampler", sampler, "--lengths", lengths, "--batch-size", batch.ToString(), "--timeout", "10");
            Assert.True(code == 0, err);
            Assert.Contains($"(batch {batch}; counted: generated positions only", text);
            var results = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "results.json")))!;
            Assert.Equal(batch, (int)results["batch_size"]!);
            return string.Join("\n---\n", Directory.GetFiles(outDir, "samples_*.jsonl").Order().Select(f => Path.GetFileName(f) + "\n" + File.ReadAllText(f)));
        }
        var one = Samples(1);
        Assert.Equal(lengths == "oracle" ? 1 : 2, one.Split("---").Length);
        Assert.Equal(one, Samples(2));
    }

    (int Code, string Out, string Err) Run(params string[] args)
    {
        var result = OpenDllm.Tests.Cli.CliCapture.Run(args);
        output.WriteLine($"$ opendllm {string.Join(' ', args)}\n{result.Out}{result.Err}(exit {result.Code})");
        return result;
    }

    string TinyCheckpoint()
    {
        var dir = Path.Combine(_dir, "ckpt");
        using var scope = NewDisposeScope();
        new Qwen2Model(ModelConfig.Tiny with { VocabSize = ByteTokenizer.Instance.VocabSize, MaxPositionEmbeddings = 4096 })
            .InitializeWeights(seed: 5).SavePretrained(dir);
        ByteTokenizer.Instance.Save(dir);
        return dir;
    }

    [Fact]
    public void EvalWithABatchSizeWritesEverySampleAndRecordsIt()
    {
        if (!BenchmarkTestData.TryGetDirectory(output, out var data)) return;
        var outDir = Path.Combine(_dir, "eval");
        var (code, text, err) = Run("eval", "humaneval", "--checkpoint", TinyCheckpoint(), "--data", data, "--out", outDir, "--limit", "3",
                                    "--samples", "2", "--max-new-tokens", "4", "--steps", "4", "--batch-size", "2");
        Assert.True(code == 0, err);
        Assert.Contains("generated tokens/s (batch 2; counted: generated positions only", text);
        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "results.json")))!;
        Assert.Equal(2, (int)results["batch_size"]!);
        Assert.Equal(3 * 2 * 4, (long)results["results"]![0]!["generated_tokens"]!);
        Assert.Equal("generated", (string?)results["results"]![0]!["counted"]);
        var samples = File.ReadAllLines(Path.Combine(outDir, "samples_completion.jsonl"));
        Assert.Equal(6, samples.Length);
        var ids = samples.Select(l => (string)JsonNode.Parse(l)!["task_id"]!).ToList();
        Assert.Equal(ids.Distinct().SelectMany(id => new[] { id, id }), ids);          // problem-major order, as at batch 1
    }

    [Theory]
    [InlineData("humaneval", "0", "--batch-size 0: must be at least 1")]
    [InlineData("humaneval-infill", "0", "--batch-size 0: must be at least 1")]
    public void BadBatchSizesAreRefused(string task, string size, string message)
    {
        if (!BenchmarkTestData.TryGetDirectory(output, out var data)) return;
        var (code, _, err) = Run("eval", task, "--checkpoint", TinyCheckpoint(), "--data", data, "--out", Path.Combine(_dir, "eval"),
                                 "--limit", "1", "--batch-size", size);
        Assert.NotEqual(0, code);
        Assert.Contains(message, err);
    }
}

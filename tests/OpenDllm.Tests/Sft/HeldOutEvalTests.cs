using System.Text.Json.Nodes;
using OpenDllm.Cli;
using OpenDllm.Evaluation;
using OpenDllm.Tests.Evaluation;
using OpenDllm.Tokenization;
using Xunit.Abstractions;

namespace OpenDllm.Tests.Sft;

/// <summary><c>eval humaneval --tasks heldout.jsonl</c> generates and scores exactly the listed problems.</summary>
[Collection("Console")]
public sealed class HeldOutEvalTests(ITestOutputHelper output) : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-heldout-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void TasksFileSelectsTheProblemsScored()
    {
        if (!BenchmarkTestData.TryGetDirectory(output, out var data)) return;
        var checkpoint = Path.Combine(_dir, "ckpt");
        using (var scope = TorchSharp.torch.NewDisposeScope())
        {
            var model = new OpenDllm.Models.Qwen2Model(OpenDllm.Config.ModelConfig.Tiny with
            {
                VocabSize = ByteTokenizer.Instance.VocabSize, MaxPositionEmbeddings = 4096,
            });
            model.SavePretrained(checkpoint);
            ByteTokenizer.Instance.Save(checkpoint);
        }
        var tasks = Path.Combine(_dir, "heldout.jsonl");
        File.WriteAllLines(tasks, ["{\"benchmark\": \"humaneval\", \"task_id\": \"HumanEval/7\"}", "{\"benchmark\": \"mbpp\", \"task_id\": 11}",
                                   "{\"benchmark\": \"humaneval\", \"task_id\": \"HumanEval/3\"}"]);
        var outDir = Path.Combine(_dir, "eval");
        Assert.Equal(0, CliApp.Run(["eval", "humaneval", "--checkpoint", checkpoint, "--data", data, "--out", outDir, "--tasks", tasks,
                                    "--max-new-tokens", "4", "--steps", "4"]));
        var samples = File.ReadLines(Path.Combine(outDir, "samples_completion.jsonl")).Select(l => (string)JsonNode.Parse(l)!["task_id"]!).ToList();
        Assert.Equal(["HumanEval/3", "HumanEval/7"], samples);                     // the benchmark's order, mbpp rows ignored
        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "results.json")))!;
        Assert.Equal(2, (int)results["problems"]!);
        Assert.Equal(2, results["task_ids"]!.AsArray().Count);

        File.WriteAllLines(tasks, ["{\"task_id\": \"HumanEval/999\"}"]);
        Assert.Equal(1, CliApp.Run(["eval", "humaneval", "--checkpoint", checkpoint, "--data", data, "--out", outDir, "--tasks", tasks]));
    }
}

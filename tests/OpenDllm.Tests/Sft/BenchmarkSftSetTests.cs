using OpenDllm.Cli;
using OpenDllm.Data;
using OpenDllm.Evaluation;
using OpenDllm.Tests.Data;
using OpenDllm.Tests.Evaluation;
using Xunit.Abstractions;

namespace OpenDllm.Tests.Sft;

/// <summary>The HumanEval + MBPP fine-tuning set: deterministic, disjoint split; files that prepare and select tasks.</summary>
public sealed class BenchmarkSftSetTests(ITestOutputHelper output) : IDisposable
{
    readonly DataTemp _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void TheSplitIsDeterministicDisjointAndDependsOnTheSeed()
    {
        if (!BenchmarkTestData.TryGetDirectory(output, out var data)) return;
        var a = BenchmarkSftSet.Build(data, 0.2, seed: 0);
        var b = BenchmarkSftSet.Build(data, 0.2, seed: 0);
        var other = BenchmarkSftSet.Build(data, 0.2, seed: 1);

        Assert.Equal(a, b);
        Assert.Equal(164 + 974, a.Count);
        Assert.Equal(a.Count, a.Select(e => e.Id).Distinct().Count());                           // every problem once
        var heldOut = a.Where(e => e.HeldOut).Select(e => e.Id).ToHashSet();
        Assert.InRange(heldOut.Count, 0.15 * a.Count, 0.25 * a.Count);
        Assert.Contains(a, e => e.HeldOut && e.Benchmark == "humaneval");
        Assert.Contains(a, e => e.HeldOut && e.Benchmark == "mbpp");
        Assert.NotEqual(heldOut, other.Where(e => e.HeldOut).Select(e => e.Id).ToHashSet());
        // HumanEval: prompt = signature + docstring, response = the canonical body; MBPP: the eval prompt, code + fence
        var humanEval = BenchmarkLoader.Load(BenchmarkTask.HumanEval, data)[0];
        var first = a.Single(e => e.Id == "humaneval:" + humanEval.TaskId);
        Assert.Equal((humanEval.Prompt, humanEval.CanonicalSolution), (first.Prompt, first.Response));
        var mbpp = a.First(e => e.Benchmark == "mbpp");
        Assert.EndsWith("```python\n", mbpp.Prompt);
        Assert.EndsWith("\n```", mbpp.Response);
        Assert.DoesNotContain("\r", mbpp.Response);
    }

    [Fact]
    public void TheCommandWritesFilesThatPrepareIntoTheSameSplitAndSelectTheHeldOutTasks()
    {
        if (!BenchmarkTestData.TryGetDirectory(output, out var data)) return;
        var dir = _temp.Combine("sft");
        Assert.Equal(0, CliApp.Run(["data", "sft-from-benchmarks", "--out", dir, "--data", data, "--seed", "2"]));
        var examples = BenchmarkSftSet.Build(data, 0.2, seed: 2);

        var manifest = CorpusPreparer.Prepare(new SftCorpus(dir), OpenDllm.Tokenization.ByteTokenizer.Instance, _temp.Combine("shards"),
            new PrepareOptions { ValidationFraction = 0.5, Seed = 99 });           // the files' own split wins over the hash
        Assert.Equal(examples.Count(e => e.HeldOut), manifest.Splits[DocumentSplit.Validation].Documents);
        Assert.Equal(examples.Count(e => !e.HeldOut), manifest.Splits[DocumentSplit.Train].Documents);

        var heldOut = Path.Combine(dir, BenchmarkSftSet.HeldOutFile);
        var ids = TaskSelection.Load(heldOut, BenchmarkTask.HumanEval);
        Assert.Equal(examples.Where(e => e.HeldOut && e.Benchmark == "humaneval").Select(e => e.TaskId), ids);
        var selected = TaskSelection.Select(BenchmarkLoader.Load(BenchmarkTask.HumanEval, data), ids, "--tasks");
        Assert.Equal(ids, selected.Select(p => p.TaskId));
        Assert.Equal(examples.Count(e => e.HeldOut && e.Benchmark == "mbpp"), TaskSelection.Load(heldOut, BenchmarkTask.Mbpp).Count);
    }

    [Fact]
    public void TaskSelectionErrorsNameTheFileAndLine()
    {
        var file = _temp.Write("t.jsonl", "{\"task_id\": \"HumanEval/0\"}\n{\"id\": 3}\n");
        Assert.Contains($"{file}:2", Assert.Throws<InvalidDataException>(() => TaskSelection.Load(file, BenchmarkTask.HumanEval)).Message);
        var none = _temp.Write("n.jsonl", "{\"task_id\": 3, \"benchmark\": \"mbpp\"}\n");
        Assert.Contains("no task of benchmark humaneval", Assert.Throws<InvalidDataException>(() => TaskSelection.Load(none, BenchmarkTask.HumanEval)).Message);
        Assert.Equal(["3"], TaskSelection.Load(none, BenchmarkTask.Mbpp));
        var problems = new[] { new BenchmarkProblem(BenchmarkTask.Mbpp, "1", "p", "c", "t") };
        Assert.Contains("'3'", Assert.Throws<InvalidDataException>(() => TaskSelection.Select(problems, ["3"], "--tasks")).Message);
    }

    [Fact]
    public void TheCommandRefusesToWriteIntoTheBenchmarksFolder()
    {
        var bench = _temp.Combine("bench");
        Directory.CreateDirectory(Path.Combine(bench, "humaneval"));
        _temp.Write("bench/train.jsonl", "keep");
        Assert.NotEqual(0, CliApp.Run(["data", "sft-from-benchmarks", "--out", bench, "--data", bench]));
        Assert.Equal("keep", File.ReadAllText(Path.Combine(bench, "train.jsonl")));
    }
}

using System.IO.Compression;
using OpenDllm.Evaluation;
using Xunit.Abstractions;

namespace OpenDllm.Tests.Evaluation;

/// <summary>
/// HumanEval+ and MBPP+ (EvalPlus): the loader reads rows in the release format (fixtures written for these tests, since
/// the releases are not obtainable here), the time limits follow EvalPlus's formula, and the programs, run in the real
/// sandbox, pass canonical solutions and fail wrong, slow and looping ones the way EvalPlus does.
/// </summary>
[Collection("Console")]
public sealed class EvalPlusTests(ITestOutputHelper output) : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-evalplus-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    static string FixtureFile(string name) => Fixture.PathOf("evalplus", name);
    static IReadOnlyList<BenchmarkProblem> HumanEvalPlus => EvalPlusLoader.Load(BenchmarkTask.HumanEvalPlus, FixtureFile("HumanEvalPlus.jsonl"));
    static IReadOnlyList<BenchmarkProblem> MbppPlus => EvalPlusLoader.Load(BenchmarkTask.MbppPlus, FixtureFile("MbppPlus.jsonl"));

    /// <summary>A data folder in the release layout (evalplus/*.jsonl.gz) made from the fixtures.</summary>
    string DataFolder()
    {
        var folder = Path.Combine(_dir, "data", "evalplus");
        Directory.CreateDirectory(folder);
        foreach (var name in new[] { "HumanEvalPlus.jsonl", "MbppPlus.jsonl" })
        {
            using var target = File.Create(Path.Combine(folder, name + ".gz"));
            using var gzip = new GZipStream(target, CompressionLevel.Fastest);
            using var source = File.OpenRead(FixtureFile(name));
            source.CopyTo(gzip);
        }
        return Path.Combine(_dir, "data");
    }

    ExecutionResult Run(BenchmarkProblem problem, string completion, EvalPlusLimits? limits = null, double clock = 60)
    {
        var sandbox = new PythonSandbox(new SandboxOptions { TimeoutSeconds = clock });
        var result = sandbox.RunAsync(EvalPlusProgram.Build(problem, completion, limits)).GetAwaiter().GetResult();
        output.WriteLine($"{problem.TaskId}: {result.StatusName} {result.DurationMs:F0} ms; {result.Stdout.Trim()} {result.Stderr.Split('\n').LastOrDefault(l => l.Trim() != "")}");
        return result;
    }

    [Fact]
    public void LoaderReadsTheReleaseFieldsAndKeepsTheRowVerbatim()
    {
        var he = HumanEvalPlus;
        Assert.Equal(["HumanEval/900", "HumanEval/901", "HumanEval/932"], he.Select(p => p.TaskId));
        Assert.Equal("mean_of", he[0].EntryPoint);
        Assert.StartsWith("def mean_of(xs: list) -> float:", he[0].Prompt);
        Assert.Equal("    return sum(xs) / len(xs)\n", he[0].CanonicalSolution);
        Assert.Contains("Infinity", he[0].EvalPlusRow);                        // Python's json writes inf so; kept for Python to read
        Assert.Equal(File.ReadLines(FixtureFile("HumanEvalPlus.jsonl")).First(), he[0].EvalPlusRow);
        Assert.All(he, p => Assert.True(p.HasTests));
        Assert.Equal(["Mbpp/2", "Mbpp/990"], MbppPlus.Select(p => p.TaskId));
        var viaTask = BenchmarkLoader.Load(BenchmarkTask.MbppPlus, DataFolder());
        Assert.Equal(MbppPlus.Select(p => p.EvalPlusRow), viaTask.Select(p => p.EvalPlusRow));
        Assert.Equal(BenchmarkTask.HumanEvalPlus, BenchmarkTasks.Parse("humaneval-plus"));
        Assert.Equal(Path.Combine("evalplus", "MbppPlus.jsonl.gz"), BenchmarkTask.MbppPlus.RelativePath());
        Assert.False(BenchmarkTask.HumanEvalPlus.IsInfill());
        Assert.True(BenchmarkTask.HumanEvalInfillRandomSpanLight.IsInfill());
    }

    [Fact]
    public void NamedFloatsOutsideStringsAreReadAsNull()
    {
        Assert.Equal("""{"a": [null, null, null], "s": "NaN Infinity"}""",
            EvalPlusLoader.WithoutNamedFloats("""{"a": [NaN, Infinity, -Infinity], "s": "NaN Infinity"}"""));
        Assert.Equal("""{"s": "say \"NaN\""}""", EvalPlusLoader.WithoutNamedFloats("""{"s": "say \"NaN\""}"""));
    }

    [Fact]
    public void BadRowsNameTheFileAndLine()
    {
        var path = Path.Combine(_dir, "HumanEvalPlus.jsonl");
        var good = File.ReadLines(FixtureFile("HumanEvalPlus.jsonl")).First();
        File.WriteAllLines(path, [good, good.Replace("\"plus_input\"", "\"extra_input\"")]);
        var e = Assert.Throws<InvalidDataException>(() => EvalPlusLoader.Load(BenchmarkTask.HumanEvalPlus, path));
        Assert.Contains("HumanEvalPlus.jsonl:2", e.Message);
        Assert.Contains("plus_input", e.Message);
        File.WriteAllLines(path, [good, good]);
        Assert.Contains("duplicate task_id", Assert.Throws<InvalidDataException>(() => EvalPlusLoader.Load(BenchmarkTask.HumanEvalPlus, path)).Message);
        File.WriteAllLines(path, [good.Replace("\"base_input\": [[[1.0, 2.0]], [[3.0]]]", "\"base_input\": [1.0, 3.0]")]);
        Assert.Contains("one argument list per test input", Assert.Throws<InvalidDataException>(() => EvalPlusLoader.Load(BenchmarkTask.HumanEvalPlus, path)).Message);
    }

    [Fact]
    public void TimeLimitsFollowEvalPlus()
    {
        var l = EvalPlusLimits.Default;
        Assert.Equal((4.0, 4.0, 60.0), (l.MinTimeLimit, l.Factor, l.PerTaskSeconds));
        Assert.Equal(4.0, l.InputLimit(0.001));                                 // the floor
        Assert.Equal(10.0, l.InputLimit(2.5));                                  // 4 × the reference time
        Assert.Equal(4.0 + 10.0 + 3, l.PartBudget([0.001, 2.5]));
        Assert.Equal(60.0 + 3, l.PartBudget(Enumerable.Repeat(1.0, 100)));     // capped per task
        Assert.Equal(191.0, l.ProgramClockSeconds());
        Assert.Equal(191.0, OpenDllm.Cli.Commands.EvalCommand.DefaultTimeoutSeconds(BenchmarkTask.MbppPlus));
        Assert.Equal(3.0, OpenDllm.Cli.Commands.EvalCommand.DefaultTimeoutSeconds(BenchmarkTask.HumanEval));
        Assert.Contains("_EP_MIN_LIMIT = 0.25\n_EP_FACTOR = 3\n", EvalPlusProgram.Build(HumanEvalPlus[1], "", new EvalPlusLimits(0.25, 3)));
    }

    [Fact]
    public void CanonicalSolutionsPassAndWrongOnesFailOnBaseOrPlusInputs()
    {
        foreach (var p in HumanEvalPlus.Concat(MbppPlus)) Assert.True(Run(p, p.CanonicalSolution).Passed, p.TaskId);
        var triangle = HumanEvalPlus[1];
        var plusOnly = Run(triangle, "    return n * (n + 1) // 2 if n < 100 else 0\n");   // right on every base input
        Assert.False(plusOnly.Passed);
        Assert.Contains("plus_input input 0: returned 0, expected 500500", plusOnly.Stderr);
        var mean = HumanEvalPlus[0];
        Assert.True(Run(mean, "    import math\n    return math.fsum(xs) / len(xs) + 1e-9\n").Passed);   // floats: atol 1e-6
        Assert.Contains("returned int, expected float", Run(mean, "    return int(sum(xs) / len(xs))\n").Stderr);
        Assert.Contains("not a root", Run(HumanEvalPlus[2], "    return 0.5\n").Stderr);                      // find_zero oracle
    }

    [Fact]
    public void MbppPlusConvertsInputsAndUsesItsOracles()
    {
        var similar = MbppPlus[0];                                              // Mbpp/2: tuple inputs, set-equal outputs
        Assert.True(Run(similar, "\ndef similar_elements(a, b):\n  assert isinstance(a, tuple) and isinstance(b, tuple)\n  return sorted(set(a) & set(b), reverse=True)\n").Passed);
        var match = MbppPlus[1];                                                // only None / not None counts
        Assert.True(Run(match, "\nimport re\ndef text_match_three(text):\n  return re.search('abbb', text)\n").Passed);
        Assert.False(Run(match, "\ndef text_match_three(text):\n  return 'a' in text\n").Passed);
    }

    [Fact]
    public void InputsPastTheirLimitFailEvenWhenTheCandidateSwallowsTheInterrupt()
    {
        var triangle = HumanEvalPlus[1];
        var tight = new EvalPlusLimits(MinTimeLimit: 0.3);
        Assert.True(Run(triangle, triangle.CanonicalSolution, tight).Passed);
        var slow = Run(triangle, "    import time\n    time.sleep(1.5)\n    return n * (n + 1) // 2\n", tight);
        Assert.Equal(ExecutionStatus.Failed, slow.Status);
        Assert.Contains("base_input input 0: timed out (limit 0.300 s)", slow.Stderr);
        var loop = Run(triangle, "    while True:\n        pass\n", tight);               // stopped by the per-input limit, not the sandbox clock
        Assert.Equal(ExecutionStatus.Failed, loop.Status);
        Assert.Contains("timed out", loop.Stderr);
        var swallow = Run(triangle, "    try:\n        while True:\n            pass\n    except BaseException:\n        return n * (n + 1) // 2\n", tight);
        Assert.Equal(ExecutionStatus.Failed, swallow.Status);
    }

    [Fact]
    public void EvalScoreScoresEvalPlusSamplesFiles()
    {
        var data = DataFolder();
        var problems = BenchmarkLoader.Load(BenchmarkTask.HumanEvalPlus, data);
        var samples = BenchmarkTestData.WriteSamples(_dir, "samples.jsonl", problems, p => p.TaskId == "HumanEval/901" ? "    return 0\n" : p.CanonicalSolution);
        var (code, text, err) = OpenDllm.Tests.Cli.CliCapture.Run("eval", "score", samples, "--task", "humaneval-plus", "--data", data,
            "--out", Path.Combine(_dir, "results.jsonl"));
        output.WriteLine(text + err);
        Assert.Equal(0, code);
        Assert.Contains("humaneval-plus: pass@1 = 66.67% (2/3 tasks passed", text);
        Assert.Contains("timeout 191 s", text);
    }
}

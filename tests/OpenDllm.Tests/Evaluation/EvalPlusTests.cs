using System.Text.Json.Nodes;
using OpenDllm.Evaluation;
using OpenDllm.Tests.Cli;
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

    static string FixtureFile(string name) => EvalPlusFixtureData.File(name);
    static IReadOnlyList<BenchmarkProblem> HumanEvalPlus => EvalPlusLoader.Load(BenchmarkTask.HumanEvalPlus, FixtureFile("HumanEvalPlus.jsonl"));
    static IReadOnlyList<BenchmarkProblem> MbppPlus => EvalPlusLoader.Load(BenchmarkTask.MbppPlus, FixtureFile("MbppPlus.jsonl"));

    string DataFolder() => EvalPlusFixtureData.Create(_dir);

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
        Assert.Equal(["Mbpp/2", "Mbpp/787"], MbppPlus.Select(p => p.TaskId));
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
        var (code, text, err) = CliCapture.Run("eval", "score", samples, "--task", "humaneval-plus", "--data", data,
            "--out", Path.Combine(_dir, "results.jsonl"));
        output.WriteLine(text + err);
        Assert.Equal(0, code);
        Assert.Contains("humaneval-plus: pass@1 = 66.67% (2/3 tasks passed", text);
        Assert.Contains("timeout 191 s", text);
    }

    /// <summary>The MBPP+ samples file path (<c>eval score --task mbpp-plus</c>): a completion is the whole code, run after the
    /// release's docstring prompt; the canonical solution passes, and code right on every base input fails on a plus input.</summary>
    [Fact]
    public void MbppPlusSamplesPassOnlyWhenThePlusInputsPassToo()
    {
        var data = DataFolder();
        var problems = BenchmarkLoader.Load(BenchmarkTask.MbppPlus, data);
        const string plusOnlyWrong = "def similar_elements(a, b):\n  if len(a) == 0:\n    return None\n  return tuple(set(a) & set(b))\n";
        var samples = BenchmarkTestData.WriteSamples(_dir, "samples.jsonl", problems, p => p.TaskId == "Mbpp/2" ? plusOnlyWrong : p.CanonicalSolution);
        var results = Path.Combine(_dir, "results.jsonl");
        var (code, text, err) = CliCapture.Run("eval", "score", samples, "--task", "mbpp-plus", "--data", data, "--out", results);
        output.WriteLine(text + err);
        Assert.Equal(0, code);
        Assert.Contains("mbpp-plus: pass@1 = 50.00% (1/2 tasks passed", text);
        var rows = File.ReadLines(results).Select(l => JsonNode.Parse(l)!).Where(r => (string?)r["type"] == "sample").ToList();
        var wrong = rows.Single(r => (string?)r["task_id"] == "Mbpp/2");
        Assert.False((bool)wrong["passed"]!);
        Assert.Contains("plus_input input 1", (string?)wrong["stderr"]);              // every base input passed
        Assert.True((bool)rows.Single(r => (string?)r["task_id"] == "Mbpp/787")["passed"]!);
    }

    /// <summary>An MBPP+ completion is post-processed as MBPP's (the whole code, cut at MBPP's stop strings, stripped, fences
    /// removed), not sanitized against the docstring prompt as HumanEval(+)'s.</summary>
    [Fact]
    public void MbppPlusCompletionsArePostProcessedAsMbpp()
    {
        const string generated = "def similar_elements(a, b):\n  return tuple(set(a) & set(b))\n```\n\nprint(similar_elements((1,), (1,)))";
        var sanitizer = new CodeSanitizer();
        Assert.Equal("def similar_elements(a, b):\n  return tuple(set(a) & set(b))\n",
            PromptFormats.SampleCompletion(MbppPlus[0], generated, stopStrings: true, sanitizer));
        Assert.Equal("def similar_elements(a, b):\n  return tuple(set(a) & set(b))\n\n\nprint(similar_elements((1,), (1,)))",
            PromptFormats.SampleCompletion(MbppPlus[0], generated, stopStrings: false, sanitizer));
    }

    /// <summary>MBPP+ generation prompts as MBPP generation does for the same task number: sanitized MBPP's text and its
    /// first three asserts in the MBPP format (the anchors' mbpp_plus task), not the release's docstring.</summary>
    [Fact]
    public void MbppPlusPromptsAreSanitizedMbppPromptsOfTheSameTask()
    {
        var data = DataFolder();
        var problems = BenchmarkLoader.Load(BenchmarkTask.MbppPlus, data);
        var prompt = PromptFormats.CompletionPrompts(BenchmarkTask.MbppPlus, problems, data);
        Assert.Equal("Write a function to find the shared elements from the given two lists. Your code should pass these tests:\n\n"
                     + "assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))\n"
                     + "assert set(similar_elements((1, 2, 3, 4),(5, 4, 3, 7))) == set((3, 4))\n"
                     + "assert set(similar_elements((11, 12, 14, 13),(17, 15, 14, 13))) == set((13, 14))```python\n", prompt(problems[0]));
        var sanitized = BenchmarkLoader.Load(BenchmarkTask.MbppSanitized, data);
        Assert.Equal(PromptFormats.MbppPrompt(sanitized.Single(p => p.TaskId == "787")), prompt(problems[1]));   // 4 asserts there: the first 3
        Assert.DoesNotContain("caacabbbba", prompt(problems[1]));
        Assert.True(PromptFormats.UsesMbppFormat(BenchmarkTask.MbppPlus));
        Assert.False(PromptFormats.UsesMbppFormat(BenchmarkTask.HumanEvalPlus));
        Assert.Equal(2, MbppPlusPrompts.TaskNumber("Mbpp/2"));
        Assert.Contains("not of the form Mbpp/N", Assert.Throws<InvalidDataException>(() => MbppPlusPrompts.Build(
            [problems[0] with { TaskId = "HumanEval/2" }], sanitized, "sanitized-mbpp.json")).Message);
        var missing = Assert.Throws<InvalidDataException>(() => MbppPlusPrompts.Build(problems, sanitized.Where(p => p.TaskId != "787").ToList(), "S.json"));
        Assert.Equal("S.json: no task_id 787, which MBPP+ Mbpp/787 takes its prompt text and tests from", missing.Message);
        var noSanitized = EvalPlusFixtureData.Create(Path.Combine(_dir, "bare"), sanitizedMbpp: false);
        var absent = Assert.Throws<InvalidDataException>(() => PromptFormats.CompletionPrompts(BenchmarkTask.MbppPlus, problems, noSanitized));
        Assert.Contains(Path.Combine(noSanitized, "mbpp", "sanitized-mbpp.json"), absent.Message);
        Assert.Contains("google-research/raw/master/mbpp/sanitized-mbpp.json", absent.Message);
    }
}

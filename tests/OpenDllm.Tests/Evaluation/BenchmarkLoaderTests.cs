using System.IO.Compression;
using OpenDllm.Evaluation;
using Xunit.Abstractions;

namespace OpenDllm.Tests.Evaluation;

public sealed class BenchmarkLoaderTests(ITestOutputHelper output) : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-bench-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void ShippedFilesLoadWithTheirRowCountsAndFields()
    {
        if (!BenchmarkTestData.TryGetDirectory(output, out var data)) return;
        foreach (var task in BenchmarkTasks.All)
        {
            // EvalPlus's releases are not in ../shared (no registry here ships them); EvalPlusTests read fixtures in their format
            if (task.IsEvalPlus() && !File.Exists(Path.Combine(data, task.RelativePath())) && !File.Exists(Path.Combine(data, task.FileName()))) continue;
            var problems = BenchmarkLoader.Load(task, data);
            output.WriteLine($"{task.Name()}: {problems.Count} problems from {task.RelativePath()}");
            Assert.Equal(task.ExpectedRows(), problems.Count);
            Assert.All(problems, p => Assert.True(p.HasTests, p.TaskId));
            // 14 random-span rows have an empty middle as shipped; every other file has a solution per row
            Assert.Equal(task == BenchmarkTask.HumanEvalInfillRandomSpan ? 14 : 0, problems.Count(p => p.CanonicalSolution == ""));
            if (task.IsInfill()) Assert.All(problems, p => Assert.NotNull(p.Suffix));
            if (task.IsMbpp()) Assert.All(problems, p => Assert.True(p.TestList!.Count >= 3, p.TaskId));
            else Assert.All(problems, p => Assert.False(string.IsNullOrEmpty(p.EntryPoint), p.TaskId));
            if (task.IsEvalPlus()) Assert.All(problems, p => Assert.NotNull(p.EvalPlusRow));
        }
        var sanitized = BenchmarkLoader.Load(BenchmarkTask.MbppSanitized, data);
        Assert.Equal("2", sanitized[0].TaskId);
        Assert.Equal(13, sanitized.Count(p => p.TestSetup != ""));      // test_imports present on 13 tasks
        Assert.Equal("HumanEval/0", BenchmarkLoader.Load(BenchmarkTask.HumanEval, data)[0].TaskId);
    }

    [Fact]
    public void RandomSpanReadsTheShippedFileNames()
    {
        // SPEC §11.8: upstream's loader asks for HumanEval-RandomSpan(Light).jsonl.gz, which is not shipped
        Assert.Equal("HumanEval-RandomSpanInfilling.jsonl.gz", BenchmarkTask.HumanEvalInfillRandomSpan.FileName());
        Assert.Equal("HumanEval-RandomSpanInfillingLight.jsonl.gz", BenchmarkTask.HumanEvalInfillRandomSpanLight.FileName());
        Assert.Equal(BenchmarkTask.HumanEvalInfillRandomSpanLight, BenchmarkTasks.Parse("humaneval-infill-random-light"));
        Assert.Contains("humaneval-infill-multi", Assert.Throws<ArgumentException>(() => BenchmarkTasks.Parse("humaneval-infill")).Message);
    }

    [Fact]
    public void MissingFileNamesTheFile()
    {
        var e = Assert.Throws<InvalidDataException>(() => BenchmarkLoader.Load(BenchmarkTask.HumanEval, _dir));
        Assert.Contains("HumanEval.jsonl.gz", e.Message);
        Assert.Throws<DirectoryNotFoundException>(() => BenchmarkData.ResolveDirectory(Path.Combine(_dir, "absent")));
    }

    [Fact]
    public void MalformedLineNamesFileAndLine()
    {
        var path = Path.Combine(_dir, "mbpp.jsonl");
        File.WriteAllText(path, """{"task_id": 1, "text": "t", "code": "c", "test_list": ["assert True"], "test_setup_code": ""}""" + "\n{not json\n");
        var e = Assert.Throws<InvalidDataException>(() => BenchmarkLoader.Load(BenchmarkTask.Mbpp, _dir));
        Assert.Contains("mbpp.jsonl:2", e.Message);

        File.WriteAllText(path, """{"task_id": 1, "code": "c", "test_list": []}""" + "\n");
        Assert.Contains("mbpp.jsonl:1: missing or non-string field 'text'",
            Assert.Throws<InvalidDataException>(() => BenchmarkLoader.Load(BenchmarkTask.Mbpp, _dir)).Message);
    }

    [Fact]
    public void CorruptGzipAndDuplicateIdsAreInvalidData()
    {
        var gz = Path.Combine(_dir, "HumanEval.jsonl.gz");
        File.WriteAllBytes(gz, [0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7]);
        Assert.Contains("HumanEval.jsonl.gz", Assert.Throws<InvalidDataException>(() => BenchmarkLoader.Load(BenchmarkTask.HumanEval, _dir)).Message);

        var row = """{"task_id": "HumanEval/0", "prompt": "def f():\n", "entry_point": "f", "canonical_solution": "    return 1\n", "test": "def check(c): pass"}""";
        WriteGzip(gz, row + "\n" + row + "\n");
        Assert.Contains("duplicate task_id", Assert.Throws<InvalidDataException>(() => BenchmarkLoader.Load(BenchmarkTask.HumanEval, _dir)).Message);
    }

    [Fact]
    public void ProblemWithoutTestsLoadsButIsMarked()
    {
        WriteGzip(Path.Combine(_dir, "HumanEval.jsonl.gz"),
            """{"task_id": "HumanEval/0", "prompt": "def f():\n", "entry_point": "f", "canonical_solution": "    return 1\n", "test": ""}""" + "\n");
        var problem = Assert.Single(BenchmarkLoader.Load(BenchmarkTask.HumanEval, _dir));
        Assert.False(problem.HasTests);
    }

    [Fact]
    public void DirectoryComesFromTheEnvironmentWhenNotGiven()
    {
        var before = Environment.GetEnvironmentVariable(BenchmarkData.EnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(BenchmarkData.EnvironmentVariable, _dir);
            Assert.Equal(Path.GetFullPath(_dir), BenchmarkData.ResolveDirectory());
            Assert.Equal(Path.GetFullPath(_dir), BenchmarkData.ResolveDirectory(_dir));
        }
        finally { Environment.SetEnvironmentVariable(BenchmarkData.EnvironmentVariable, before); }
    }

    static void WriteGzip(string path, string text)
    {
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        gzip.Write(System.Text.Encoding.UTF8.GetBytes(text));
    }
}

using System.Text.Json.Nodes;
using OpenDllm.Evaluation;
using Parquet;
using Parquet.Schema;

namespace OpenDllm.Tests.Evaluation;

/// <summary>SantaCoder-FIM (SPEC §7.4): the loader, the line-selection rule and exact match, and `eval santacoder-fim --score`.</summary>
[Collection("Console")]
public sealed class SantaCoderFimTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-santafim-").FullName;
    public void Dispose() => Directory.Delete(_dir, true);

    static string FixtureFile => Fixture.PathOf("santacoder-fim", "fim-task.jsonl");

    [Theory]
    [InlineData("    return a + b\nprint(1)", "    return a + b")]
    [InlineData("\n    return a + b\nx", "    return a + b")]          // a leading line break: the second line
    [InlineData(" \n    return a + b", "    return a + b")]            // " \n" counts as a leading break too
    [InlineData("\t\n    return a + b", "\t")]                        // but "\t\n" does not (the official rule)
    [InlineData("  \n    return a + b", "  ")]                        // nor two spaces
    [InlineData("\n", "")]
    [InlineData("", "")]
    [InlineData("only", "only")]
    public void SelectLineFollowsTheOfficialRule(string completion, string expected) =>
        Assert.Equal(expected, FimExactMatch.SelectLine(completion));

    [Fact]
    public void ExactMatchStripsBothSidesAndComparesTheSelectedLine()
    {
        Assert.True(FimExactMatch.IsMatch("return a + b   \nmore", "    return a + b"));
        Assert.True(FimExactMatch.IsMatch("\n  return a + b\n", "return a + b\n"));
        Assert.False(FimExactMatch.IsMatch("\t\nreturn a + b", "return a + b"));
        Assert.False(FimExactMatch.IsMatch("return a+b", "return a + b"));
        Assert.False(FimExactMatch.IsMatch("x = 1\nreturn a + b", "return a + b"));
        Assert.Equal("a", FimExactMatch.PythonStrip("\u001c\u00a0 a \u2003\u001f"));   // str.isspace() characters
        Assert.Equal("\u200ba", FimExactMatch.PythonStrip(" \u200ba"));               // zero-width space is not space in Python
        Assert.Equal(200.0 / 3, FimExactMatch.Percent([("a", "a"), ("\nb\n", "b"), ("c", "d")]), 12);
        Assert.Throws<ArgumentException>(() => FimExactMatch.Percent([]));
    }

    [Fact]
    public void LoaderKeepsPythonRowsInOrderWithThePromptNewline()
    {
        var rows = SantaCoderFim.Load(FixtureFile);
        Assert.Equal(["py_fixture_0", "py_fixture_1", "py_fixture_2"], rows.Select(r => r.Name));
        Assert.Equal([0, 1, 2], rows.Select(r => r.TaskId));
        Assert.Equal("def first(xs):\n    if not xs:\n        return None\n", rows[1].Prefix);
        Assert.Equal("    return xs[0]", rows[1].CanonicalSolution);
        Assert.Equal(["js_fixture_0"], SantaCoderFim.Load(FixtureFile, "js").Select(r => r.Name));
    }

    [Fact]
    public void ParquetFilesAndFoldersReadTheSameRows()
    {
        var jsonl = SantaCoderFim.Load(FixtureFile);
        var folder = Path.Combine(_dir, "hub", "data");
        Directory.CreateDirectory(folder);
        WriteParquet(Path.Combine(folder, "train-00000-of-00001.parquet"), SantaCoderFim.Load(FixtureFile, "js").Concat(jsonl).ToList());
        Directory.CreateDirectory(Path.Combine(_dir, "hub", ".cache"));
        File.WriteAllText(Path.Combine(_dir, "hub", ".cache", "junk.jsonl"), "not json\n");   // hidden folders are skipped
        var parquet = SantaCoderFim.Load(Path.Combine(_dir, "hub"));
        Assert.Equal(jsonl, parquet);
    }

    [Fact]
    public void BadDataIsAnErrorNamingTheFileAndLine()
    {
        var missing = Path.Combine(_dir, "missing.jsonl");
        File.WriteAllText(missing, "{\"language\": \"py\", \"prompt\": \"x\", \"suffix\": \"\"}\n");
        var e = Assert.Throws<InvalidDataException>(() => SantaCoderFim.Load(missing));
        Assert.Contains("missing.jsonl:1", e.Message);
        Assert.Contains("canonical_solution", e.Message);
        var noPython = Path.Combine(_dir, "js.jsonl");
        File.WriteAllLines(noPython, File.ReadLines(FixtureFile).Where(l => l.Contains("\"js\"")));
        Assert.Contains("no rows with language 'py'", Assert.Throws<InvalidDataException>(() => SantaCoderFim.Load(noPython)).Message);
        Assert.Contains("not found", Assert.Throws<InvalidDataException>(() => SantaCoderFim.Load(Path.Combine(_dir, "nope"))).Message);
        var parquet = Path.Combine(_dir, "broken.parquet");
        File.WriteAllText(parquet, "PAR1 not really");
        Assert.Contains("broken.parquet", Assert.Throws<InvalidDataException>(() => SantaCoderFim.Load(parquet)).Message);
    }

    [Fact]
    public void ScoreSamplesCountsExactMatchesAndTheCliPrintsThem()
    {
        var rows = SantaCoderFim.Load(FixtureFile);
        var samples = Path.Combine(_dir, "samples.jsonl");
        File.WriteAllLines(samples,
        [
            SantaCoderFimEvaluation.SampleLine(rows[0], "\n    return a + b\n\nprint"),     // match (second line)
            SantaCoderFimEvaluation.SampleLine(rows[1], "return xs[0]  "),                // match (stripped)
            SantaCoderFimEvaluation.SampleLine(rows[2], "return math.pi * r * r"),        // wrong
        ]);
        Assert.Equal(0, (int)JsonNode.Parse(File.ReadLines(samples).First())!["task_id"]!);
        var r = SantaCoderFimEvaluation.ScoreSamples(samples);
        Assert.Equal((3, 2), (r.Count, r.Matches));
        Assert.Equal(200.0 / 3, r.ExactMatch, 12);

        var (code, text, _) = OpenDllm.Tests.Cli.CliCapture.Run("eval", "santacoder-fim", "--score", samples);
        Assert.Equal(0, code);
        Assert.Contains("exact match = 66.67% (2/3)", text);

        File.AppendAllText(samples, "{\"completion\": \"x\"}\n");
        var (bad, _, err) = OpenDllm.Tests.Cli.CliCapture.Run("eval", "santacoder-fim", "--score", samples);
        Assert.Equal(1, bad);
        Assert.Contains("samples.jsonl:4", err);
        Assert.Contains("ground_truth_middle", err);
        var (usage, _, err2) = OpenDllm.Tests.Cli.CliCapture.Run("eval", "santacoder-fim", "--score", samples, "--limit", "2");
        Assert.NotEqual(0, usage);
        Assert.Contains("--limit", err2);
    }

    static void WriteParquet(string path, IReadOnlyList<SantaCoderFimProblem> rows) => WriteParquetAsync(path, rows).GetAwaiter().GetResult();

    /// <summary>The hub's columns, as nullable strings (how <c>datasets</c> writes them).</summary>
    static async Task WriteParquetAsync(string path, IReadOnlyList<SantaCoderFimProblem> rows)
    {
        var fields = new[] { "name", "language", "prompt", "suffix", "canonical_solution" }.Select(n => new DataField(n, typeof(string), true)).ToArray();
        string?[][] columns =
        [
            rows.Select(r => r.Name).ToArray(), rows.Select(r => r.Language).ToArray(), rows.Select(r => r.Prompt).ToArray(),
            rows.Select(r => r.Suffix).ToArray(), rows.Select(r => r.CanonicalSolution).ToArray(),
        ];
        await using var stream = File.Create(path);
        await using var writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields), stream);
        using var group = writer.CreateRowGroup();
        for (int i = 0; i < fields.Length; i++) await group.WriteAsync(fields[i], columns[i]);
    }
}

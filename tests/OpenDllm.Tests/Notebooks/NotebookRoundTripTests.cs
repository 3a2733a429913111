using System.Text.Json.Nodes;
using OpenDllm.Interactive.Notebooks;

namespace OpenDllm.Tests.Notebooks;

/// <summary>
/// Read → write → read through <see cref="NotebookFile"/> (the .NET Interactive Documents package plus the shim) loses
/// nothing: notebook metadata and kernelspec, cell ids, kinds, languages, tags, cell metadata, execution counts, outputs.
/// </summary>
public sealed class NotebookRoundTripTests
{
    public static TheoryData<string> RecipeNotebooks()
    {
        var data = new TheoryData<string>();
        foreach (var path in Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "notebooks"), "*.ipynb").Order()) data.Add(Path.GetFileName(path));
        return data;
    }

    static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "notebooks", name);

    [Theory, MemberData(nameof(RecipeNotebooks))]
    public void RecipeNotebookRoundTripsWithoutLoss(string name)
    {
        var path = Path.Combine(TestPaths.RepoRoot, "notebooks", name);
        var original = File.ReadAllText(path);
        var first = NotebookFile.Load(path);
        var text = NotebookFile.ToIpynb(first);
        var second = NotebookFile.ParseIpynb(text, path);

        AssertSameNotebook(first, second);
        Assert.Equal("csharp", second.DefaultLanguage);
        Assert.Equal(JsonNode.Parse(original)!["metadata"]!.ToJsonString(), JsonNode.Parse(text)!["metadata"]!.ToJsonString());
        var cells = JsonNode.Parse(original)!["cells"]!.AsArray();
        Assert.Equal(cells.Select(c => c?["metadata"]?["tags"]?.AsArray().Select(t => t!.GetValue<string>()).ToList() ?? []), second.Cells.Select(c => c.Tags));
        Assert.Equal(cells.Select(c => c?["source"] is JsonArray lines ? string.Concat(lines.Select(l => l!.GetValue<string>())) : c?["source"]?.GetValue<string>()),
                     second.Cells.Select(c => c.Source));
        var originalIds = cells.Select(c => c?["id"]?.GetValue<string>()).ToList();
        Assert.All(originalIds.Zip(second.Cells), p => Assert.True(p.First is null || p.First == p.Second.Id));
        if (originalIds.All(id => id is not null) && original.EndsWith('\n'))
            Assert.Equal(original, text);   // a notebook already in Jupyter's layout is written back byte for byte
        Assert.Equal(text, NotebookFile.ToIpynb(second));
    }

    [Fact]
    public void OutputsRawCellsLanguagesAndJsonDataRoundTrip()
    {
        var notebook = NotebookFile.Load(Fixture("polyglot.ipynb"));
        var code = notebook.Cells[3];
        code.ExecutionCount = 4;
        code.Metadata["custom"] = new JsonObject { ["x"] = 1, ["list"] = new JsonArray(1.5, "a", true) };
        code.Outputs.Add(CellOutput.Stream("stdout", "line 1\nline 2\n"));
        code.Outputs.Add(CellOutput.Stream("stderr", "warning\n"));
        var display = new CellOutput { OutputType = OutputType.DisplayData, Metadata = new JsonObject { ["isolated"] = true } };
        display.Data["text/html"] = "<div class=\"tok\">é</div>\n<b>2</b>";
        display.Data["text/plain"] = "é";
        display.Data["application/vnd.plotly.v1+json"] = """{"data":[{"y":[1,2]}]}""";
        code.Outputs.Add(display);
        code.Outputs.Add(new CellOutput { OutputType = OutputType.ExecuteResult, ExecutionCount = 4, Data = { ["text/plain"] = "20" } });
        code.Outputs.Add(CellOutput.Error("System.Exception", "boom", ["System.Exception: boom", "   at cell4"]));

        var text = NotebookFile.ToIpynb(notebook);
        var back = NotebookFile.ParseIpynb(text, "back.ipynb");

        AssertSameNotebook(notebook, back);
        Assert.Equal(CellKind.Raw, back.Cells[4].Kind);
        Assert.Equal("fsharp", back.Cells[2].Language);
        Assert.Equal("""{"answer":42}""", back.Cells[2].Outputs[1].Data["application/json"]);
        var json = JsonNode.Parse(text)!.AsObject();
        NotebookFormatTests.AssertValidNbformat(json);
        Assert.Equal("raw", json["cells"]![4]!["cell_type"]!.GetValue<string>());
        Assert.Equal(42, json["cells"]![2]!["outputs"]![1]!["data"]!["application/json"]!["answer"]!.GetValue<int>());   // a JSON value, not text
        Assert.Equal(2, json["cells"]![3]!["outputs"]![2]!["data"]!["application/vnd.plotly.v1+json"]!["data"]![0]!["y"]![1]!.GetValue<int>());
        Assert.Equal(text, NotebookFile.ToIpynb(back));
    }

    [Fact]
    public void DibToIpynbKeepsLanguagesParametersAndGetsAKernelspec()
    {
        var dib = NotebookFile.Load(Fixture("sample.dib"));
        var text = NotebookFile.ToIpynb(dib);
        var back = NotebookFile.ParseIpynb(text, "sample.ipynb");

        AssertSameNotebook(dib, back);
        Assert.Equal(["markdown", "csharp", "csharp", "fsharp", "csharp"], back.Cells.Select(c => c.Language));
        var json = JsonNode.Parse(text)!.AsObject();
        NotebookFormatTests.AssertValidNbformat(json);
        Assert.Equal(".net-csharp", json["metadata"]!["kernelspec"]!["name"]!.GetValue<string>());
        Assert.Equal("fsharp", json["cells"]![3]!["metadata"]!["polyglot_notebook"]!["kernelName"]!.GetValue<string>());
        Assert.Equal("csharp", json["metadata"]!["polyglot_notebook"]!["kernelInfo"]!["defaultKernelName"]!.GetValue<string>());
    }

    [Fact]
    public void DibWithoutMetaSwitchesToEveryPolyglotKernel()
    {
        var notebook = NotebookFile.ParseDib("#!csharp\n\nvar a = 1;\n\n#!fsharp\n\nlet b = 2\n\n#!pwsh\n\nGet-Date\n\n#!md\n\n# note\n", "k.dib");
        Assert.Equal(["csharp", "fsharp", "pwsh", "markdown"], notebook.Cells.Select(c => c.Language));
        Assert.Equal(["var a = 1;", "let b = 2", "Get-Date", "# note"], notebook.Cells.Select(c => c.Source));
    }

    internal static void AssertSameNotebook(Notebook expected, Notebook actual)
    {
        Assert.Equal(expected.DefaultLanguage, actual.DefaultLanguage);
        Assert.Equal(expected.Cells.Count, actual.Cells.Count);
        foreach (var (e, a) in expected.Cells.Zip(actual.Cells))
        {
            Assert.Equal(e.Id, a.Id);
            Assert.Equal(e.Kind, a.Kind);
            Assert.Equal(e.Language, a.Language);
            Assert.Equal(e.Source, a.Source);
            Assert.Equal(e.Tags, a.Tags);
            Assert.Equal(e.ExecutionCount, a.ExecutionCount);
            AssertMetadataKept(e.Metadata, a.Metadata);
            Assert.Equal(e.Outputs.Count, a.Outputs.Count);
            foreach (var (eo, ao) in e.Outputs.Zip(a.Outputs))
            {
                Assert.Equal(eo.OutputType, ao.OutputType);
                Assert.Equal(eo.Name, ao.Name);
                Assert.Equal(eo.Text, ao.Text);
                Assert.Equal(eo.EName, ao.EName);
                Assert.Equal(eo.EValue, ao.EValue);
                Assert.Equal(eo.Traceback, ao.Traceback);
                Assert.Equal(eo.ExecutionCount, ao.ExecutionCount);
                Assert.Equal(eo.Data.OrderBy(p => p.Key), ao.Data.OrderBy(p => p.Key));
                Assert.True(JsonNode.DeepEquals(eo.Metadata, ao.Metadata), $"{eo.Metadata} != {ao.Metadata}");
            }
        }
        AssertMetadataKept(expected.Metadata, actual.Metadata);
    }

    /// <summary>Every key of <paramref name="expected"/> is in <paramref name="actual"/> with the same value (writing may add the .NET Interactive keys).</summary>
    static void AssertMetadataKept(JsonObject expected, JsonObject actual)
    {
        foreach (var (key, value) in expected)
            Assert.True(JsonNode.DeepEquals(value, actual[key]), $"metadata.{key}: {value?.ToJsonString()} became {actual[key]?.ToJsonString()}");
    }
}

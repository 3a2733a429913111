using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using OpenDllm.Interactive.Notebooks;

namespace OpenDllm.Tests.Notebooks;

public sealed class NotebookFormatTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-nbformat-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    static string FixturePath(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "notebooks", name);

    [Fact]
    public void IpynbCellLanguagesTagsAndOutputsAreRead()
    {
        var notebook = NotebookFile.Load(FixturePath("polyglot.ipynb"));

        Assert.Equal("csharp", notebook.DefaultLanguage);
        Assert.Equal(5, notebook.Cells.Count);
        Assert.Equal([CellKind.Markdown, CellKind.Code, CellKind.Code, CellKind.Code, CellKind.Raw], notebook.Cells.Select(c => c.Kind));
        Assert.Equal(["markdown", "csharp", "fsharp", "csharp"], notebook.Cells.Take(4).Select(c => c.Language));
        Assert.Equal("var steps = 2;\nvar name = \"tiny\";", notebook.Cells[1].Source);
        Assert.Equal(["parameters"], notebook.Cells[1].Tags);
        var result = notebook.Cells[2].Outputs[1];
        Assert.Equal(OutputType.ExecuteResult, result.OutputType);
        Assert.Equal("42", result.Data["text/plain"]);
        Assert.Equal("""{"answer":42}""", result.Data["application/json"]);
        Assert.All(notebook.Cells, c => Assert.True(CellIds.IsValid(c.Id)));   // 4.2 has no ids: filled
    }

    [Fact]
    public void LanguageFallsBackToTheNotebookKernelspec()
    {
        const string json = """
            {"nbformat": 4, "nbformat_minor": 4, "metadata": {"kernelspec": {"name": ".net-fsharp", "language": "F#"}},
             "cells": [{"cell_type": "code", "metadata": {}, "source": "1 + 1", "outputs": [], "execution_count": null}]}
            """;
        Assert.Equal("fsharp", NotebookFile.ParseIpynb(json, "f.ipynb").Cells[0].Language);
    }

    [Fact]
    public void DibSectionsMetaMarkdownAndParametersAreRead()
    {
        var notebook = NotebookFile.Load(FixturePath("sample.dib"));

        Assert.Equal(5, notebook.Cells.Count);
        Assert.Equal(["markdown", "csharp", "csharp", "fsharp", "csharp"], notebook.Cells.Select(c => c.Language));
        Assert.Equal(CellKind.Markdown, notebook.Cells[0].Kind);
        Assert.Equal("# Sample\n\nText with a `#!time` mention.", notebook.Cells[0].Source);
        Assert.Equal(["parameters"], notebook.Cells[1].Tags);
        Assert.StartsWith("#!time\n", notebook.Cells[2].Source);           // a magic, not a cell separator
        Assert.Equal("total + 1", notebook.Cells[4].Source);                // "#!cs" is an alias from #!meta
        Assert.Equal("csharp", notebook.Metadata["polyglot_notebook"]!["kernelInfo"]!["defaultKernelName"]!.GetValue<string>());
    }

    [Fact]
    public void DibWithoutMetaDefaultsToCSharp()
    {
        var notebook = NotebookFile.ParseDib("var a = 1;\n\n#!markdown\n\nnote\n", "x.dib");
        Assert.Equal(["csharp", "markdown"], notebook.Cells.Select(c => c.Language));
        Assert.Equal("var a = 1;", notebook.Cells[0].Source);
    }

    [Fact]
    public void WrittenIpynbIsValidNbformatAndRoundTrips()
    {
        var notebook = NotebookFile.Load(FixturePath("sample.dib"));
        var code = notebook.Cells[2];
        code.ExecutionCount = 1;
        code.Outputs.Add(CellOutput.Stream("stdout", "line 1\nline 2\n"));
        var display = new CellOutput { OutputType = OutputType.DisplayData };
        display.Data["text/html"] = "<b>é</b>";
        display.Data["text/plain"] = "é";
        code.Outputs.Add(display);
        code.Outputs.Add(new CellOutput { OutputType = OutputType.ExecuteResult, ExecutionCount = 1, Data = { ["text/plain"] = "3" } });
        code.Outputs.Add(CellOutput.Error("System.Exception", "boom", ["System.Exception: boom", "   at cell3"]));
        var path = Path.Combine(_dir, "out.ipynb");

        NotebookFile.Write(notebook, path);

        var text = File.ReadAllText(path);
        Assert.StartsWith("{\n \"cells\": [\n  {\n", text);                 // Jupyter's layout: indent 1, sorted keys
        Assert.EndsWith("}\n", text);
        Assert.Contains("<b>é</b>", text);                                   // not \u-escaped, as Jupyter writes
        AssertValidNbformat(JsonNode.Parse(text)!.AsObject());

        var back = NotebookFile.Load(path);
        Assert.Equal(notebook.Cells.Select(c => c.Id), back.Cells.Select(c => c.Id));
        Assert.Equal(notebook.Cells.Select(c => c.Source), back.Cells.Select(c => c.Source));
        Assert.Equal(notebook.Cells.Select(c => c.Language), back.Cells.Select(c => c.Language));
        Assert.Equal(["parameters"], back.Cells[1].Tags);
        var outputs = back.Cells[2].Outputs;
        Assert.Equal([OutputType.Stream, OutputType.DisplayData, OutputType.ExecuteResult, OutputType.Error], outputs.Select(o => o.OutputType));
        Assert.Equal("line 1\nline 2\n", outputs[0].Text);
        Assert.Equal("<b>é</b>", outputs[1].Data["text/html"]);
        Assert.Equal(1, outputs[2].ExecutionCount);
        Assert.Equal(["System.Exception: boom", "   at cell3"], outputs[3].Traceback);
        Assert.Equal(text, NotebookFile.ToIpynb(back));                        // stable: writing what was read changes nothing
    }

    [Fact]
    public void MalformedJsonNamesTheFile()
    {
        var path = Path.Combine(_dir, "broken.ipynb");
        File.WriteAllText(path, "{\"cells\": [ {\"cell_type\": \"code\", ");
        var e = Assert.Throws<InvalidDataException>(() => NotebookFile.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("not valid notebook JSON", e.Message);
    }

    [Fact]
    public void MalformedCellNamesTheFileAndCell()
    {
        const string json = """{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "markdown", "source": "a"}, {"cell_type": "widget"}]}""";
        var e = Assert.Throws<InvalidDataException>(() => NotebookFile.ParseIpynb(json, "nb.ipynb"));
        Assert.StartsWith("nb.ipynb: cell 2: unknown cell_type \"widget\"", e.Message);
    }

    [Fact]
    public void MalformedDibMetaNamesTheLine()
    {
        var e = Assert.Throws<InvalidDataException>(() => NotebookFile.ParseDib("#!meta\n\n{\"kernelInfo\": \n\n#!csharp\n1", "m.dib"));
        Assert.StartsWith("m.dib: line ", e.Message);
        Assert.Contains("#!meta", e.Message);
    }

    /// <summary>The nbformat 4.5 schema's structural rules the runner's output must follow.</summary>
    internal static void AssertValidNbformat(JsonObject root)
    {
        Assert.Equal(4, root["nbformat"]!.GetValue<int>());
        Assert.True(root["nbformat_minor"]!.GetValue<int>() >= 5);
        Assert.NotNull(root["metadata"]!.AsObject());
        var ids = new HashSet<string>();
        foreach (var cell in root["cells"]!.AsArray().Select(c => c!.AsObject()))
        {
            var id = cell["id"]!.GetValue<string>();
            Assert.Matches(new Regex("^[a-zA-Z0-9-_]{1,64}$"), id);
            Assert.True(ids.Add(id), $"duplicate cell id {id}");
            Assert.NotNull(cell["metadata"]!.AsObject());
            Assert.NotNull(cell["source"]!.AsArray());
            var type = cell["cell_type"]!.GetValue<string>();
            Assert.Contains(type, new[] { "code", "markdown", "raw" });
            if (type != "code")
            {
                Assert.Null(cell["outputs"]);
                continue;
            }
            Assert.True(cell.ContainsKey("execution_count"));
            foreach (var output in cell["outputs"]!.AsArray().Select(o => o!.AsObject()))
            {
                var keys = output.Select(p => p.Key).Order().ToArray();
                switch (output["output_type"]!.GetValue<string>())
                {
                    case "execute_result": Assert.Equal(["data", "execution_count", "metadata", "output_type"], keys); break;
                    case "display_data": Assert.Equal(["data", "metadata", "output_type"], keys); break;
                    case "stream":
                        Assert.Equal(["name", "output_type", "text"], keys);
                        Assert.Contains(output["name"]!.GetValue<string>(), new[] { "stdout", "stderr" });
                        break;
                    case "error": Assert.Equal(["ename", "evalue", "output_type", "traceback"], keys); break;
                    default: Assert.Fail($"unknown output_type in {output}"); break;
                }
            }
        }
    }
}

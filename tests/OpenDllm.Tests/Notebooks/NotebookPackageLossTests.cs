using System.Text.Json.Nodes;
using Microsoft.DotNet.Interactive.Documents;
using Jupyter = Microsoft.DotNet.Interactive.Documents.Jupyter.Notebook;

namespace OpenDllm.Tests.Notebooks;

/// <summary>
/// What Microsoft.DotNet.Interactive.Documents 1.0.0-beta.26120.1 loses on its own: the reasons OpenDllm keeps
/// <c>NbformatShim</c>. Each test calls the package directly; one that starts failing after a package update means
/// that repair can go (the round-trip tests then show whether the package alone still loses nothing).
/// </summary>
public sealed class NotebookPackageLossTests
{
    static string Fixture(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "notebooks", name));

    /// <summary>polyglot.ipynb without its application/json output, which the package cannot write at all.</summary>
    static string WithoutJsonOutput()
    {
        var root = JsonNode.Parse(Fixture("polyglot.ipynb"))!;
        root["cells"]![2]!["outputs"]!.AsArray().RemoveAt(1);
        return root.ToJsonString();
    }

    [Fact]
    public void PackageTurnsARawCellIntoACodeCell()
    {
        var written = JsonNode.Parse(Jupyter.ToJupyterJson(Jupyter.Parse(WithoutJsonOutput())))!;
        Assert.Equal("code", written["cells"]![4]!["cell_type"]!.GetValue<string>());   // "raw" in the file
    }

    [Fact]
    public void PackageCannotWriteAJsonMimeOutputItRead()
    {
        var document = Jupyter.Parse(Fixture("polyglot.ipynb"));
        Assert.ThrowsAny<ArgumentException>(() => Jupyter.ToJupyterJson(document));
    }

    [Fact]
    public void PackageWritesNbformat45WithoutCellIds()
    {
        var written = JsonNode.Parse(Jupyter.ToJupyterJson(Jupyter.Parse(WithoutJsonOutput())))!;
        Assert.Equal(5, written["nbformat_minor"]!.GetValue<int>());
        Assert.Null(written["cells"]![0]!["id"]);   // nbformat 4.5 requires an id on every cell
    }

    [Fact]
    public void PackageAcceptsUnknownCellTypesAndOtherNbformatVersions()
    {
        var widget = Jupyter.Parse("""{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "widget", "source": "x", "metadata": {}}]}""");
        Assert.Single(widget.Elements);
        var v3 = Jupyter.Parse("""{"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": [{"cell_type": "code", "input": "1"}]}]}""");
        Assert.Empty(v3.Elements);   // read as an empty notebook, without an error
        var numberSource = Jupyter.Parse("""{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code", "source": 5, "metadata": {}, "outputs": []}]}""");
        Assert.Single(numberSource.Elements);   // "source" must be text; read as a cell without an error
    }

    [Fact]
    public void PackageGivesADibReadNotebookNoKernelspec()
    {
        var written = JsonNode.Parse(Jupyter.ToJupyterJson(CodeSubmission.Parse(Fixture("sample.dib"))))!;
        Assert.Null(written["metadata"]!["kernelspec"]);
        Assert.False(Jupyter.ToJupyterJson(CodeSubmission.Parse(Fixture("sample.dib"))).EndsWith('\n'));   // Jupyter ends with one
    }

    [Fact]
    public void PackageDibWithoutMetaKnowsNoFSharp()
    {
        var document = CodeSubmission.Parse("#!csharp\n\nvar a = 1;\n\n#!fsharp\n\nlet b = 2\n");
        Assert.DoesNotContain(document.Elements, e => e.KernelName == "fsharp");
    }
}

using OpenDllm.Interactive.Notebooks;

namespace OpenDllm.Tests.Notebooks;

/// <summary>The runner redirects Console while a cell runs, so it shares the collection of other console-capturing tests.</summary>
[Collection("Console")]
public sealed class NotebookRunnerTests
{
    /// <summary>A notebook of C# code cells; a cell starting with "md:" is markdown.</summary>
    internal static Notebook Cells(params string[] sources)
    {
        var notebook = new Notebook { SourcePath = "test.ipynb" };
        foreach (var source in sources)
            notebook.Cells.Add(source.StartsWith("md:", StringComparison.Ordinal)
                ? new NotebookCell(CellKind.Markdown, "markdown", source[3..])
                : new NotebookCell(CellKind.Code, "csharp", source));
        return notebook;
    }

    static Task<NotebookRunResult> Run(Notebook notebook, NotebookRunOptions? options = null, Func<object, string?>? html = null) =>
        new NotebookRunner(html).RunAsync(notebook, options);

    static CellOutput Single(NotebookCell cell, OutputType type) => Assert.Single(cell.Outputs, o => o.OutputType == type);

    [Fact]
    public async Task StateCarriesAcrossCellsAndTheLastExpressionIsTheResult()
    {
        var result = await Run(Cells("var x = 20;", "md:# note", "using System.Numerics;\nstatic int Twice(int v) => v * 2;",
                                     "Twice(x) + 2", "BigInteger.One"));

        Assert.True(result.Success, result.FailureMessage);
        var cells = result.Notebook.Cells;
        Assert.Empty(cells[0].Outputs);                                         // a statement: no result
        Assert.Null(cells[1].ExecutionCount);                                   // markdown is skipped
        Assert.Equal(CellStatus.Skipped, result.Cells[1].Status);
        var value = Single(cells[3], OutputType.ExecuteResult);
        Assert.Equal("42", value.Data["text/plain"]);
        Assert.Equal("<pre>42</pre>", value.Data["text/html"]);                 // the default HTML hook
        Assert.Equal(3, value.ExecutionCount);
        Assert.Equal(3, cells[3].ExecutionCount);
        Assert.Equal("1", Single(cells[4], OutputType.ExecuteResult).Data["text/plain"]);   // the using carried over
    }

    [Fact]
    public async Task DisplayAndConsoleOutputsKeepTheirOrder()
    {
        var result = await Run(Cells("""
            Console.WriteLine("before");
            Console.Error.WriteLine("warn");
            display(new[] { 1, 2, 3 });
            var shown = display("first");
            shown.Update("<second>");
            display(HTML("<b>raw</b>"));
            Console.Write("after");
            """), html: v => v is int[] ? "<table>ints</table>" : null);

        Assert.True(result.Success, result.FailureMessage);
        var outputs = result.Notebook.Cells[0].Outputs;
        Assert.Equal([OutputType.Stream, OutputType.Stream, OutputType.DisplayData, OutputType.DisplayData, OutputType.DisplayData, OutputType.Stream],
                     outputs.Select(o => o.OutputType));
        Assert.Equal(("stdout", "before\n"), (outputs[0].Name, outputs[0].Text));
        Assert.Equal(("stderr", "warn\n"), (outputs[1].Name, outputs[1].Text));
        Assert.Equal("<table>ints</table>", outputs[2].Data["text/html"]);
        Assert.Equal("[1, 2, 3]", outputs[2].Data["text/plain"]);
        Assert.False(outputs[3].Data.ContainsKey("text/html"));                 // the hook had no HTML: text/plain only
        Assert.Equal("<second>", outputs[3].Data["text/plain"]);                // replaced in place by Update
        Assert.Equal("<b>raw</b>", outputs[4].Data["text/html"]);
        Assert.Equal("after", outputs[5].Text);
    }

    [Fact]
    public async Task ConsoleIsRestoredAfterTheRun()
    {
        var before = Console.Out;
        await Run(Cells("Console.WriteLine(1);"));
        Assert.Same(before, Console.Out);
    }

    [Theory]
    [InlineData("throw new InvalidOperationException(\"boom\");", "InvalidOperationException: boom", "System.InvalidOperationException")]
    [InlineData("var y = undefinedName + 1;", "error CS0103", "CompilationError")]
    public async Task TheFirstFailingCellStopsTheRun(string failing, string message, string ename)
    {
        var notebook = Cells("md:intro", "Console.WriteLine(\"ok\");", failing, "Console.WriteLine(\"never\");");

        var result = await Run(notebook);

        Assert.False(result.Success);
        Assert.StartsWith("cell 3 failed: ", result.FailureMessage);
        Assert.Contains(message, result.FailureMessage);
        Assert.Equal([CellStatus.Skipped, CellStatus.Ok, CellStatus.Failed, CellStatus.NotRun], result.Cells.Select(c => c.Status));
        var error = Single(result.Notebook.Cells[2], OutputType.Error);
        Assert.Equal(ename, error.EName);
        Assert.NotEmpty(error.Traceback);
        Assert.Empty(result.Notebook.Cells[3].Outputs);
        Assert.Null(result.Notebook.Cells[3].ExecutionCount);
        Assert.Empty(notebook.Cells[2].Outputs);                                // the input notebook is untouched
    }

    [Fact]
    public async Task ParametersAreInjectedAfterTheParametersCell()
    {
        var notebook = Cells("int steps = 2;\nfloat lr = 0.5f;\nvar name = \"tiny\";\nvar fast = false;", "$\"{steps} {lr} {name} {fast}\"");
        notebook.Cells[0].Tags.Add("parameters");
        var parameters = new Dictionary<string, string> { ["steps"] = "7", ["lr"] = "0.25", ["name"] = "big one", ["fast"] = "true" };

        var result = await Run(notebook, new NotebookRunOptions { Parameters = parameters });

        Assert.True(result.Success, result.FailureMessage);
        var injected = result.Notebook.Cells[1];
        Assert.Equal(["injected-parameters"], injected.Tags);
        Assert.Contains("lr = 0.25F;", injected.Source);
        Assert.Contains("name = \"big one\";", injected.Source);
        Assert.True(result.Cells[1].Injected);
        Assert.Equal("7 0.25 big one True", Single(result.Notebook.Cells[2], OutputType.ExecuteResult).Data["text/plain"]);
        Assert.Equal(3, result.Notebook.Cells.Count);
    }

    [Fact]
    public async Task RerunningAnExecutedNotebookReplacesTheInjectedParameters()
    {
        var notebook = Cells("var steps = 2;", "steps");
        notebook.Cells[0].Tags.Add("parameters");
        var first = await Run(notebook, new NotebookRunOptions { Parameters = new Dictionary<string, string> { ["steps"] = "5" } });

        var second = await Run(first.Notebook, new NotebookRunOptions { Parameters = new Dictionary<string, string> { ["steps"] = "9" } });

        Assert.True(second.Success, second.FailureMessage);
        Assert.Equal(3, second.Notebook.Cells.Count);
        Assert.Contains("steps = 9;", second.Notebook.Cells[1].Source);
        Assert.Equal("9", Single(second.Notebook.Cells[2], OutputType.ExecuteResult).Data["text/plain"]);
        Assert.Equal([1, 1, 3], second.Cells.Select(c => c.Number));            // numbers are positions in the file given
    }

    [Fact]
    public async Task UnknownParameterNamesTheDeclaredOnes()
    {
        var notebook = Cells("var steps = 2; var seed = 1;", "steps");
        notebook.Cells[0].Tags.Add("parameters");
        var e = await Assert.ThrowsAsync<ArgumentException>(() =>
            Run(notebook, new NotebookRunOptions { Parameters = new Dictionary<string, string> { ["step"] = "3" } }));
        Assert.Contains("unknown parameter \"step\"", e.Message);
        Assert.Contains("steps, seed", e.Message);
    }

    [Fact]
    public async Task AMistypedParameterFailsTheInjectedCell()
    {
        var notebook = Cells("var steps = 2;", "steps");
        notebook.Cells[0].Tags.Add("parameters");
        var result = await Run(notebook, new NotebookRunOptions { Parameters = new Dictionary<string, string> { ["steps"] = "many" } });
        Assert.False(result.Success);
        Assert.StartsWith("cell 1+ (injected parameters) failed: parameter \"steps\"", result.FailureMessage);
        Assert.Equal(CellStatus.NotRun, result.Cells[^1].Status);
    }

    [Fact]
    public async Task CarriedPackagesAreAcceptedAndUnknownOnesFailClearly()
    {
        var result = await Run(Cells(
            "#r \"nuget: OpenDllm.Core\"\n#r \"nuget: OpenDllm.Interactive, 0.1.0\"\n#r \"nuget:TorchSharp-cpu\"\n#i \"nuget: /tmp/feed\"\n#!csharp\n"
            + "typeof(OpenDllm.IO.AtomicFile).Name",
            "#r \"nuget: Definitely.Not.Carried, 1.0.0\"\n1"));

        Assert.Equal(CellStatus.Ok, result.Cells[0].Status);
        Assert.Equal("AtomicFile", Single(result.Notebook.Cells[0], OutputType.ExecuteResult).Data["text/plain"]);
        Assert.Equal(["nuget: /tmp/feed"], result.Sources);
        Assert.StartsWith("cell 2 failed: package Definitely.Not.Carried is not available in the headless runner; it carries: ",
                          result.FailureMessage);
        Assert.Contains("TorchSharp", result.FailureMessage);
    }

    [Fact]
    public async Task TorchSharpTensorsWorkInACell()
    {
        var result = await Run(Cells("var t = torch.ones(2) * 3;", "t.sum().item<float>()", "zeros(2, 3).shape"));
        Assert.True(result.Success, result.FailureMessage);
        Assert.Equal("6", Single(result.Notebook.Cells[1], OutputType.ExecuteResult).Data["text/plain"]);
        Assert.Equal("[2, 3]", Single(result.Notebook.Cells[2], OutputType.ExecuteResult).Data["text/plain"]);
    }

    [Fact]
    public async Task CellsShareOneThreadSoThreadLocalTorchStateCarriesOver()
    {
        var result = await Run(Cells("var thread = Environment.CurrentManagedThreadId;\nvar noGrad = torch.no_grad();",
                                     "(thread == Environment.CurrentManagedThreadId, torch.is_grad_enabled())",
                                     "noGrad.Dispose();\ntorch.is_grad_enabled()"));
        Assert.True(result.Success, result.FailureMessage);
        Assert.Equal("(True, False)", Single(result.Notebook.Cells[1], OutputType.ExecuteResult).Data["text/plain"]);
        Assert.Equal("True", Single(result.Notebook.Cells[2], OutputType.ExecuteResult).Data["text/plain"]);
    }

    [Fact]
    public async Task AssemblyReferencesResolveFromTheNotebookFolder()
    {
        var folder = Directory.CreateTempSubdirectory("opendllm-nbref-").FullName;
        try
        {
            var compilation = Microsoft.CodeAnalysis.CSharp.CSharpCompilation.Create("TinyNotebookLib",
                [Microsoft.CodeAnalysis.CSharp.CSharpSyntaxTree.ParseText("namespace Tiny; public static class Hello { public static string World() => \"hi\"; }")],
                [Microsoft.CodeAnalysis.MetadataReference.CreateFromFile(typeof(object).Assembly.Location)],
                new Microsoft.CodeAnalysis.CSharp.CSharpCompilationOptions(Microsoft.CodeAnalysis.OutputKind.DynamicallyLinkedLibrary));
            Directory.CreateDirectory(Path.Combine(folder, "lib"));
            using (var dll = File.Create(Path.Combine(folder, "lib", "TinyNotebookLib.dll")))
                Assert.True(compilation.Emit(dll).Success);

            var result = await Run(Cells("#r \"lib/TinyNotebookLib.dll\"\nTiny.Hello.World()", "#r \"missing/Nope.dll\""),
                                   new NotebookRunOptions { BaseDirectory = folder });

            Assert.Equal("hi", Single(result.Notebook.Cells[0], OutputType.ExecuteResult).Data["text/plain"]);
            Assert.StartsWith("cell 2 failed: #r \"missing/Nope.dll\": assembly not found", result.FailureMessage);
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public async Task FSharpCellsFailWithAPointerToDotnetFsi()
    {
        var notebook = Cells("1", "#!fsharp\nlet x = 1", "2");
        var result = await Run(notebook);
        Assert.Equal([CellStatus.Ok, CellStatus.Failed, CellStatus.NotRun], result.Cells.Select(c => c.Status));
        Assert.Contains("dotnet fsi", result.FailureMessage);
        Assert.Equal("fsharp", result.Cells[1].Language);
    }

    [Fact]
    public async Task ACellPastTheTimeoutFails()
    {
        var result = await Run(Cells("System.Threading.Thread.Sleep(3000);", "1"),
                               new NotebookRunOptions { CellTimeout = TimeSpan.FromMilliseconds(300) });
        Assert.Equal([CellStatus.Failed, CellStatus.NotRun], result.Cells.Select(c => c.Status));
        Assert.Contains("did not finish within 0.3 s", result.FailureMessage);
        Assert.Equal("Timeout", Single(result.Notebook.Cells[0], OutputType.Error).EName);
    }

    /// <summary>Regression: output was concatenated string by string (4 MB of lines took minutes); now it is buffered and capped.</summary>
    [Fact]
    public async Task ConsoleOutputPastTheDefaultCapIsDroppedWithANote()
    {
        var result = await Run(Cells("var line = new string('x', 99);\nfor (int i = 0; i < 160_000; i++) Console.WriteLine(line);",   // 16 MB
                                     "Console.WriteLine(\"next cell\");"));

        Assert.True(result.Success, result.FailureMessage);
        var text = Assert.Single(result.Notebook.Cells[0].Outputs).Text!;
        Assert.EndsWith("\n[output truncated after 8 MiB (the per-cell output cap)]\n", text);
        Assert.InRange(text.Length, 8 << 20, (8 << 20) + 100);
        Assert.StartsWith(new string('x', 99) + "\n", text);
        Assert.Equal("next cell\n", Assert.Single(result.Notebook.Cells[1].Outputs).Text);
    }

    [Fact]
    public async Task OutputCapsAreConfigurablePerCellAndPerNotebook()
    {
        const string KiB40 = "Console.Write(new string('y', 40 * 1024));";
        var result = await Run(Cells(KiB40, KiB40, KiB40, KiB40),
                               new NotebookRunOptions { MaxCellOutputBytes = 64 << 10, MaxNotebookOutputBytes = 100 << 10 });

        Assert.True(result.Success, result.FailureMessage);
        var texts = result.Notebook.Cells.Select(c => Assert.Single(c.Outputs).Text!).ToList();
        Assert.Equal(40 << 10, texts[0].Length);
        Assert.Equal(40 << 10, texts[1].Length);
        Assert.Equal(new string('y', 20 << 10) + "\n[output truncated: the notebook's output reached 100 KiB (the per-notebook output cap)]\n", texts[2]);
        Assert.Equal("[output truncated: the notebook's output reached 100 KiB (the per-notebook output cap)]\n", texts[3]);
    }

    /// <summary>Regression: display() from a thread an earlier cell left running landed in whichever cell ran at the time.</summary>
    [Fact]
    public async Task AThreadLeftRunningByACellNeverWritesIntoALaterCell()
    {
        var result = await Run(Cells("""
            var halt = new System.Threading.ManualResetEventSlim();
            var rounds = 0;
            var worker = new System.Threading.Thread(() =>
            {
                while (!halt.IsSet)
                {
                    display("late");
                    Console.WriteLine("late");
                    System.Threading.Interlocked.Increment(ref rounds);
                    System.Threading.Thread.Sleep(1);
                }
            }) { IsBackground = true };
            worker.Start();
            while (System.Threading.Volatile.Read(ref rounds) == 0) System.Threading.Thread.Sleep(1);
            """,
            """
            var seen = System.Threading.Volatile.Read(ref rounds);
            while (System.Threading.Volatile.Read(ref rounds) < seen + 3) System.Threading.Thread.Sleep(1);   // it ran during this cell
            Console.WriteLine("cell two");
            """,
            "halt.Set();\nworker.Join();"));

        Assert.True(result.Success, result.FailureMessage);
        var second = Assert.Single(result.Notebook.Cells[1].Outputs);
        Assert.Equal(("stdout", "cell two\n"), (second.Name, second.Text));
        Assert.Empty(result.Notebook.Cells[2].Outputs);
    }

    [Fact]
    public void EveryCellHasATimeoutByDefault() => Assert.Equal(TimeSpan.FromMinutes(30), new NotebookRunOptions().CellTimeout);

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    [InlineData(1e9)]
    public async Task ATimeoutOutOfRangeIsRefusedBeforeAnyCellRuns(double seconds)
    {
        var e = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() =>
            Run(Cells("Console.WriteLine(1);"), new NotebookRunOptions { CellTimeout = TimeSpan.FromSeconds(seconds) }));
        Assert.Contains("CellTimeout", e.Message);
    }
}

using System.Diagnostics;
using System.Text.Json.Nodes;
using OpenDllm.Cli;
using OpenDllm.Interactive.Notebooks;
using Xunit.Abstractions;

namespace OpenDllm.Tests.Notebooks;

/// <summary>`opendllm notebook run`: a line per cell, the executed notebook written, exit 1 with the failing cell.</summary>
[Collection("Console")]
public sealed class NotebookCommandTests(ITestOutputHelper log) : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-nbcli-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var (stdout, stderr) = (Console.Out, Console.Error);
        using var outWriter = new StringWriter();
        using var errWriter = new StringWriter();
        Console.SetOut(outWriter);
        Console.SetError(errWriter);
        try { return (CliApp.Run(args), outWriter.ToString(), errWriter.ToString()); }
        finally { Console.SetOut(stdout); Console.SetError(stderr); }
    }

    [Fact]
    public void RunsADibWithParametersIntoTheDefaultOutput()
    {
        var dib = Path.Combine(_dir, "sample.dib");
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Fixtures", "notebooks", "sample.dib"), dib);
        File.WriteAllText(dib, File.ReadAllText(dib).Replace("#!fsharp\n\nlet x = 1\n", ""));   // C# only

        var (code, text, err) = Cli("notebook", "run", dib, "--param", "steps=5", "--timeout-seconds", "60");

        Assert.True(code == 0, text + err);
        Assert.Contains("cell 1/4  skipped (markdown)", text);
        Assert.Contains("cell 2+/4 (injected parameters)  ok", text);
        Assert.Matches(@"cell 4/4  ok  \d+\.\d\d s", text);
        var output = Path.Combine(_dir, "sample.out.ipynb");
        Assert.Contains($"wrote {output}", text);
        var json = JsonNode.Parse(File.ReadAllText(output))!.AsObject();
        NotebookFormatTests.AssertValidNbformat(json);
        var executed = IpynbReader.Read(output);
        Assert.Equal(5, executed.Cells.Count);
        Assert.Equal("10", executed.Cells[3].Outputs.Single(o => o.OutputType == OutputType.ExecuteResult).Data["text/plain"]);   // 0+1+2+3+4
        Assert.Contains(executed.Cells[3].Outputs, o => o.OutputType == OutputType.Stream && o.Text!.StartsWith("Wall time: "));
        Assert.Equal("11", executed.Cells[4].Outputs.Single().Data["text/plain"]);
    }

    [Fact]
    public void AFailingCellExitsNonZeroAndStillWritesTheNotebook()
    {
        var notebook = NotebookRunnerTests.Cells("var a = 1;", "throw new Exception(\"bad cell\");", "a");
        var input = Path.Combine(_dir, "fails.ipynb");
        IpynbWriter.Write(notebook, input);
        var output = Path.Combine(_dir, "out", "executed.ipynb");

        var (code, text, err) = Cli("notebook", "run", input, "--output", output);

        Assert.Equal(1, code);
        Assert.Contains("cell 2/3  FAILED", text);
        Assert.Contains("cell 3/3  not run", text);
        Assert.Contains("error: cell 2 failed: Exception: bad cell", err);
        var executed = IpynbReader.Read(output);
        Assert.Equal("bad cell", executed.Cells[1].Outputs.Single().EValue);
        Assert.Empty(executed.Cells[2].Outputs);
        Assert.Equal(notebook.Cells.Select(c => c.Id), executed.Cells.Select(c => c.Id));   // ids kept
    }

    /// <summary>Jupyter's own validator and writer, where a python3 with nbformat exists (Debian: python3-nbformat).</summary>
    [Fact]
    public void ExecutedNotebookPassesJupyterValidationAndMatchesItsWriter()
    {
        const string check = "import sys, nbformat; nb = nbformat.read(sys.argv[1], as_version=nbformat.NO_CONVERT); nbformat.validate(nb); "
                             + "sys.exit(0 if nbformat.writes(nb) + '\\n' == open(sys.argv[1], encoding='utf-8').read() else 3)";
        var python = new[] { "python3", "/usr/bin/python3" }.FirstOrDefault(p => Python(p, "-c", "import nbformat") == 0);
        if (python is null)
        {
            log.WriteLine("SKIPPED: no python3 with nbformat (apt-get install python3-nbformat)");
            return;
        }
        var notebook = NotebookRunnerTests.Cells("md:# Title ✓", "Console.WriteLine(\"out\"); Console.Error.WriteLine(\"err\");\ndisplay(HTML(\"<i>é</i>\"));\n41 + 1",
                                                 "throw new Exception(\"stop\");", "1");
        var input = Path.Combine(_dir, "all-outputs.ipynb");
        IpynbWriter.Write(notebook, input);

        Assert.Equal(1, Cli("notebook", "run", input).Code);

        Assert.Equal(0, Python(python, "-c", check, Path.Combine(_dir, "all-outputs.out.ipynb")));
    }

    int Python(string python, params string[] args)
    {
        var start = new ProcessStartInfo(python) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        try
        {
            using var process = Process.Start(start)!;
            var err = process.StandardError.ReadToEndAsync();
            log.WriteLine(process.StandardOutput.ReadToEnd());
            process.WaitForExit();
            log.WriteLine(err.Result);
            return process.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception) { return -1; }
    }

    [Fact]
    public void BadArgumentsExitWithOneAndWriteNothing()
    {
        var notebook = NotebookRunnerTests.Cells("var steps = 1;");
        notebook.Cells[0].Tags.Add("parameters");
        var input = Path.Combine(_dir, "p.ipynb");
        IpynbWriter.Write(notebook, input);
        var broken = Path.Combine(_dir, "broken.ipynb");
        File.WriteAllText(broken, "{ nope");

        var unknown = Cli("notebook", "run", input, "--param", "stepz=2");
        Assert.Equal(1, unknown.Code);
        Assert.Contains("unknown parameter \"stepz\"; the parameters cell declares: steps", unknown.Err);
        var malformed = Cli("notebook", "run", broken);
        Assert.Equal(1, malformed.Code);
        Assert.Contains(broken, malformed.Err);
        Assert.Equal(1, Cli("notebook", "run", input, "--param", "novalue").Code);
        Assert.Equal(1, Cli("notebook", "run", Path.Combine(_dir, "missing.ipynb")).Code);
        Assert.False(File.Exists(Path.Combine(_dir, "p.out.ipynb")));
    }
}

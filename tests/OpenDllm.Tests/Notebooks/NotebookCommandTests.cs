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

    static (int Code, string Out, string Err) Cli(params string[] args) => OpenDllm.Tests.Cli.CliCapture.Run(args);

    [Fact]
    public void RunsADibWithParametersIntoTheDefaultOutput()
    {
        var dib = Path.Combine(_dir, "sample.dib");
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Fixtures", "notebooks", "sample.dib"), dib);
        File.WriteAllText(dib, File.ReadAllText(dib).Replace("#!fsharp\n\nlet x = 1\n", ""));   // C# only

        var (code, text, err) = Cli("notebook", "run", dib, "--param", "steps=5", "--timeout-seconds", "none");   // no limit

        Assert.True(code == 0, text + err);
        Assert.Contains("cell 1/4  skipped (markdown)", text);
        Assert.Contains("cell 2+/4 (injected parameters)  ok", text);
        Assert.Matches(@"cell 4/4  ok  \d+\.\d\d s", text);
        var output = Path.Combine(_dir, "sample.out.ipynb");
        Assert.Contains($"wrote {output}", text);
        var json = JsonNode.Parse(File.ReadAllText(output))!.AsObject();
        NotebookFormatTests.AssertValidNbformat(json);
        var executed = NotebookFile.Load(output);
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
        NotebookFile.Write(notebook, input);
        var output = Path.Combine(_dir, "out", "executed.ipynb");

        var (code, text, err) = Cli("notebook", "run", input, "--output", output, "--timeout-seconds", "0");   // no limit

        Assert.Equal(1, code);
        Assert.Contains("cell 2/3  FAILED", text);
        Assert.Contains("cell 3/3  not run", text);
        Assert.Contains("error: cell 2 failed: Exception: bad cell", err);
        var executed = NotebookFile.Load(output);
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
        NotebookFile.Write(notebook, input);

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

    /// <summary>Every mistake a user can make ends as one line naming the file, option or value, exit 1, nothing written.</summary>
    [Fact]
    public void BadArgumentsExitWithOneLineAndWriteNothing()
    {
        var notebook = NotebookRunnerTests.Cells("var steps = 1;");
        notebook.Cells[0].Tags.Add("parameters");
        var input = Path.Combine(_dir, "p.ipynb");
        NotebookFile.Write(notebook, input);
        string Write(string name, string text)
        {
            var path = Path.Combine(_dir, name);
            File.WriteAllText(path, text);
            return path;
        }
        var broken = Write("broken.ipynb", "{ nope");
        var badMetadata = Write("meta.ipynb", """{"nbformat": 4, "metadata": {"polyglot_notebook": "x", "kernelspec": 3}, "cells": [{"cell_type": "code", "source": 5}]}""");
        var duplicate = Write("dup.ipynb", """{"nbformat": 4, "nbformat": 4, "cells": []}""");
        var textVersion = Write("version.ipynb", """{"nbformat": "4", "cells": []}""");
        var unknownExtension = Write("notes.txt", "{}");
        var folder = Directory.CreateDirectory(Path.Combine(_dir, "folder.ipynb")).FullName;
        var missing = Path.Combine(_dir, "missing.ipynb");

        (string[] Args, string Named)[] cases =
        [
            (["notebook", "run", input, "--param", "stepz=2"], "unknown parameter \"stepz\"; the parameters cell declares: steps"),
            (["notebook", "run", input, "--param", "novalue"], "--param novalue: expected name=value"),
            (["notebook", "run", input, "--param", "steps=2", "--param", "steps=3"], "--param steps: given twice (2 and 3)"),
            (["notebook", "run", input, "--timeout-seconds", "1e12"], "--timeout-seconds 1e12: too long"),
            (["notebook", "run", input, "--timeout-seconds", "-5"], "--timeout-seconds -5: must be positive"),
            (["notebook", "run", input, "--timeout-seconds", "soon"], "--timeout-seconds soon: not a number of seconds"),
            (["notebook", "run", input, "--timeout-seconds", "NaN"], "--timeout-seconds NaN: not a number of seconds"),
            (["notebook", "run", input, "--max-cell-output-mib", "0"], "--max-cell-output-mib 0: must be more than 0"),
            (["notebook", "run", input, "--max-notebook-output-mib", "lots"], "--max-notebook-output-mib lots: not a number"),
            (["notebook", "run", input, "--output", folder], $"--output {folder}: is a folder"),
            (["notebook", "run", input, "--output", input], $"--output {input}: this is an input of the command"),
            (["notebook", "run", broken], $"{broken}: not valid notebook JSON (line 1, byte 3)"),
            (["notebook", "run", badMetadata], $"{badMetadata}: cell 1: \"source\" must be a string or an array of strings"),
            (["notebook", "run", duplicate], $"{duplicate}: not valid notebook JSON: Duplicate property 'nbformat'"),
            (["notebook", "run", textVersion], $"{textVersion}: \"nbformat\" must be the number 4, not \"4\""),
            (["notebook", "run", unknownExtension], $"{unknownExtension}: unknown notebook extension \".txt\""),
            (["notebook", "run", folder], $"{folder}: is a folder, not a notebook"),
            (["notebook", "run", missing], $"{missing}: notebook not found"),
        ];
        foreach (var (args, named) in cases)
        {
            var (code, text, err) = Cli(args);
            var line = Assert.Single(err.TrimEnd('\n').Split('\n'));
            Assert.True(code == 1 && line.StartsWith("error: ", StringComparison.Ordinal) && line.Contains(named, StringComparison.Ordinal),
                        $"{string.Join(' ', args)}\n  exit {code}\n  stderr: {err}\n  expected one line naming: {named}");
            Assert.Empty(text);
        }
        Assert.Equal(["broken.ipynb", "dup.ipynb", "folder.ipynb", "meta.ipynb", "notes.txt", "p.ipynb", "version.ipynb"],
                     Directory.EnumerateFileSystemEntries(_dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// Regression: a cell that overflows the stack, calls Environment.Exit or throws on a background thread ended the whole
    /// command with no notebook written (or silently). Cells now run in a worker process; the parent writes the notebook.
    /// </summary>
    [Theory]
    [InlineData("int Down(int n) => Down(n + 1) + 1;\nDown(0)", "the notebook process exited: stack overflow (at Submission#1.Down(Int32))")]
    [InlineData("Environment.Exit(3);", "the notebook process exited: the cell called Environment.Exit(3)")]
    [InlineData("new System.Threading.Thread(() => throw new InvalidOperationException(\"from a thread\")).Start();\nSystem.Threading.Thread.Sleep(-1);",
                "the notebook process exited: an exception was not handled on a background thread (InvalidOperationException: from a thread)")]
    public void ACellThatKillsItsProcessFailsWithTheReasonAndTheNotebookIsWritten(string killer, string reason)
    {
        var notebook = NotebookRunnerTests.Cells("Console.WriteLine(\"one\");", "Console.WriteLine(\"before\");\n" + killer, "3");
        var input = Path.Combine(_dir, "crash.ipynb");
        NotebookFile.Write(notebook, input);

        var (code, text, err) = Cli("notebook", "run", input);

        Assert.True(code == 1, text + err);
        Assert.Contains("cell 1/3  ok", text);
        Assert.Contains("cell 2/3  FAILED", text);
        Assert.Contains("cell 3/3  not run", text);
        Assert.Equal($"error: cell 2 failed: {reason}", err.TrimEnd('\n').Split('\n')[^1]);
        var output = Path.Combine(_dir, "crash.out.ipynb");
        NotebookFormatTests.AssertValidNbformat(JsonNode.Parse(File.ReadAllText(output))!.AsObject());
        var executed = NotebookFile.Load(output);
        Assert.Equal("one\n", Assert.Single(executed.Cells[0].Outputs).Text);
        var outputs = executed.Cells[1].Outputs;
        Assert.Equal("before\n", outputs.First(o => o.OutputType == OutputType.Stream && o.Name == "stdout").Text);
        var error = outputs[^1];
        Assert.Equal(("NotebookProcessExited", reason), (error.EName, error.EValue));
        Assert.Empty(executed.Cells[2].Outputs);
    }

    /// <summary>
    /// Regression: a timed-out cell kept running (and printing) after the command returned. The worker running it is now
    /// stopped; what the cell printed before is kept, and console output past the cap is dropped with a note.
    /// </summary>
    [Fact]
    public void ATimedOutCellIsStoppedAndItsOutputIsCapped()
    {
        var marker = Path.Combine(_dir, "ticks.txt");
        var notebook = NotebookRunnerTests.Cells(
            "var line = new string('x', 1023);\nfor (int i = 0; i < 1024; i++) Console.WriteLine(line);",   // 1 MiB
            $"var marker = @\"{marker}\";\nwhile (true)\n{{\n    File.AppendAllText(marker, \"x\");\n    Console.WriteLine(\"tick\");\n    System.Threading.Thread.Sleep(20);\n}}",
            "1");
        var input = Path.Combine(_dir, "slow.ipynb");
        NotebookFile.Write(notebook, input);

        var (code, text, err) = Cli("notebook", "run", input, "--timeout-seconds", "15", "--max-cell-output-mib", "0.0625");

        var ticks = new FileInfo(marker);
        Assert.True(ticks.Exists, "the looping cell never started\n" + text + err);
        var length = ticks.Length;
        Thread.Sleep(1000);
        ticks.Refresh();
        Assert.Equal(length, ticks.Length);                                     // nothing runs the loop any more
        Assert.Equal(1, code);
        Assert.Equal("error: cell 2 failed: the cell did not finish within 15 s (the per-cell timeout); the notebook process was stopped",
                     err.TrimEnd('\n').Split('\n')[^1]);
        var executed = NotebookFile.Load(Path.Combine(_dir, "slow.out.ipynb"));
        var capped = Assert.Single(executed.Cells[0].Outputs).Text!;
        Assert.EndsWith("\n[output truncated after 64 KiB (the per-cell output cap)]\n", capped);
        Assert.True(capped.Length < (64 << 10) + 100);
        Assert.StartsWith("tick\n", executed.Cells[1].Outputs[0].Text);        // printed before the timeout: kept
        Assert.Equal("Timeout", executed.Cells[1].Outputs[^1].EName);
    }
}

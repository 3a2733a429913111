using OpenDllm.Interactive;
using System.CommandLine;
using System.Globalization;
using OpenDllm.Interactive.Notebooks;

namespace OpenDllm.Cli.Commands;

/// <summary>
/// `opendllm notebook run NOTEBOOK [--param name=value ...] [--output PATH] [--timeout-seconds N]`: runs a .ipynb or .dib
/// notebook headless (C# cells through Roslyn scripting, in this process, so cells share its TorchSharp), prints one line
/// per cell and writes the executed notebook (default NOTEBOOK.out.ipynb) even when a cell fails; a failure exits 1 with
/// "cell N failed: message".
/// </summary>
public static class NotebookCommand
{
    public static Command Create()
    {
        var notebook = new Argument<string>("notebook") { Description = "The notebook to run (.ipynb or .dib)." };
        var parameters = new Option<string[]>("--param")
        {
            Description = "name=value override for the cell tagged \"parameters\" (repeatable).", AllowMultipleArgumentsPerToken = false,
        };
        var output = new Option<string?>("--output") { Description = "Where to write the executed notebook (default: NOTEBOOK.out.ipynb)." };
        var timeout = new Option<double?>("--timeout-seconds") { Description = "Fail a cell that runs longer than this." };
        var run = new Command("run", "Run a notebook's C# cells headless and write it back with outputs (nbformat 4.5).")
        {
            notebook, parameters, output, timeout,
        };
        run.SetAction(parse => CliErrors.Run(() => Run(parse.GetValue(notebook)!, parse.GetValue(parameters) ?? [],
                                                        parse.GetValue(output), parse.GetValue(timeout))));
        return new Command("notebook", "Notebooks: run .ipynb/.dib files headless.") { run };
    }

    static int Run(string path, string[] parameterArgs, string? outputPath, double? timeoutSeconds)
    {
        if (timeoutSeconds is <= 0) throw new ArgumentException("--timeout-seconds must be positive");
        var overrides = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var arg in parameterArgs)
        {
            var eq = arg.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"--param {arg}: expected name=value");
            overrides[arg[..eq].Trim()] = arg[(eq + 1)..];
        }
        outputPath ??= NotebookFile.DefaultOutputPath(path);
        var notebook = NotebookFile.Load(path);
        var options = new NotebookRunOptions
        {
            Parameters = overrides,
            CellTimeout = timeoutSeconds is { } s ? TimeSpan.FromSeconds(s) : null,
            OnCellCompleted = cell => Console.WriteLine(Line(cell, notebook.Cells.Count)),
        };
        Renderers.ResetSession();                                   // plotly.js inlined once per executed notebook
        var result = new NotebookRunner(Renderers.ToHtml).RunAsync(notebook, options).GetAwaiter().GetResult();
        IpynbWriter.Write(result.Notebook, outputPath);
        Console.WriteLine($"wrote {outputPath}");
        if (result.Success) return 0;
        Console.Error.WriteLine($"error: {result.FailureMessage}");
        return 1;
    }

    static string Line(CellRunResult cell, int count)
    {
        var status = cell.Status switch
        {
            CellStatus.Ok => "ok", CellStatus.Failed => "FAILED", CellStatus.Skipped => $"skipped ({cell.Language})", _ => "not run",
        };
        var seconds = cell.Status is CellStatus.Ok or CellStatus.Failed
            ? cell.Elapsed.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture) + " s" : "";
        var label = cell.Injected ? $"cell {cell.Number}+/{count} (injected parameters)" : $"cell {cell.Number}/{count}";
        return $"{label}  {status}  {seconds}".TrimEnd();
    }
}

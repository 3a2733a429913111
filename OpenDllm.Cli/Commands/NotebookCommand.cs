using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using OpenDllm.Interactive;
using OpenDllm.Interactive.Notebooks;
using OpenDllm.IO;

namespace OpenDllm.Cli.Commands;

/// <summary>
/// `opendllm notebook run NOTEBOOK [--param name=value ...] [--output PATH] [--timeout-seconds N|none]
/// [--max-cell-output-mib N] [--max-notebook-output-mib N] [--force]`: runs a .ipynb or .dib notebook headless. The cells
/// run in a worker process (this program again, through the hidden `notebook worker PIPE` command), so a cell that
/// overflows the stack, calls Environment.Exit, throws on a background thread or hangs past the per-cell timeout (30
/// minutes unless given) fails with its number while this process still writes the executed notebook (default
/// NOTEBOOK.out.ipynb). It prints one line per cell; a failure exits 1 with "error: cell N failed: message" as the last
/// line, Ctrl+C exits 130 after writing the notebook.
/// </summary>
public static class NotebookCommand
{
    const double MaxOutputMib = 1024;

    public static Command Create()
    {
        var notebook = new Argument<string>("notebook") { Description = "The notebook to run (.ipynb or .dib)." };
        var parameters = new Option<string[]>("--param")
        {
            Description = "name=value override for the cell tagged \"parameters\" (repeatable).", AllowMultipleArgumentsPerToken = false,
        };
        var output = new Option<string?>("--output") { Description = "Where to write the executed notebook (default: NOTEBOOK.out.ipynb)." };
        var timeout = new Option<string?>("--timeout-seconds")
        {
            Description = $"Fail a cell that runs longer than this (default {NotebookRunOptions.DefaultCellTimeout.TotalSeconds:0}; 0 or none: no limit).",
        };
        var cellOutput = new Option<string?>("--max-cell-output-mib")
        {
            Description = $"Console output kept per cell, in MiB (default {NotebookRunOptions.DefaultMaxCellOutputBytes >> 20}); the rest is dropped with a note.",
        };
        var notebookOutput = new Option<string?>("--max-notebook-output-mib")
        {
            Description = $"Console output kept for the whole notebook, in MiB (default {NotebookRunOptions.DefaultMaxNotebookOutputBytes >> 20}).",
        };
        var force = new Option<bool>("--force") { Description = "Allow --output to overwrite the notebook being run." };
        var run = new Command("run", "Run a notebook's C# cells headless and write it back with outputs (nbformat 4.5).")
        {
            notebook, parameters, output, timeout, cellOutput, notebookOutput, force,
        };
        run.SetAction(parse => CliErrors.Run(() => Run(parse.GetValue(notebook)!, parse.GetValue(parameters) ?? [], parse.GetValue(output),
                                                        parse.GetValue(timeout), parse.GetValue(cellOutput), parse.GetValue(notebookOutput),
                                                        parse.GetValue(force))));

        var pipe = new Argument<string>("pipe") { Description = "The pipe `notebook run` created." };
        var worker = new Command("worker", "Internal: runs the cells `notebook run` sends over PIPE (started by it).") { pipe };
        worker.Hidden = true;
        worker.SetAction(parse => RunWorker(parse.GetValue(pipe)!));
        return new Command("notebook", "Notebooks: run .ipynb/.dib files headless.") { run, worker };
    }

    static int Run(string path, string[] parameterArgs, string? outputPath, string? timeoutText, string? cellOutputText,
                   string? notebookOutputText, bool force)
    {
        var options = new NotebookRunOptions
        {
            Parameters = ParseParameters(parameterArgs),
            CellTimeout = ParseTimeout(timeoutText),
            MaxCellOutputBytes = ParseMib("--max-cell-output-mib", cellOutputText, NotebookRunOptions.DefaultMaxCellOutputBytes),
            MaxNotebookOutputBytes = ParseMib("--max-notebook-output-mib", notebookOutputText, NotebookRunOptions.DefaultMaxNotebookOutputBytes),
            Worker = WorkerCommand(),
        };
        outputPath ??= NotebookFile.DefaultOutputPath(path);
        var notebook = NotebookFile.Load(path);
        NotebookRunner.Validate(notebook, options);
        OutputGuard.EnsureSafe(outputPath, "--output", force, path);
        EnsureWritable(outputPath);

        using var interrupt = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            if (interrupt.IsCancellationRequested) Environment.Exit(ExitCodes.Interrupted);
            Console.Error.WriteLine("interrupt: stopping the notebook process, then writing the notebook (Ctrl-C again to abort)");
            interrupt.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        NotebookRunResult result;
        try
        {
            options = options with { OnCellCompleted = cell => Console.WriteLine(Line(cell, notebook.Cells.Count)) };
            result = new NotebookRunner().RunAsync(notebook, options, interrupt.Token).GetAwaiter().GetResult();
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
        NotebookFile.Write(result.Notebook, outputPath);
        Console.WriteLine($"wrote {outputPath}");
        if (result.Success) return ExitCodes.Ok;
        Console.Error.WriteLine($"error: {result.FailureMessage}");
        return interrupt.IsCancellationRequested ? ExitCodes.Interrupted : ExitCodes.Error;
    }

    /// <summary>The hidden worker command: serves one run, then ends the process (a cell may leave foreground threads behind).</summary>
    static int RunWorker(string pipe)
    {
        Renderers.ResetSession();                                   // plotly.js inlined once per executed notebook
        var code = CliErrors.Run(() => NotebookWorker.RunAsync(pipe, Renderers.ToHtml).GetAwaiter().GetResult());
        Console.Out.Flush();
        Environment.Exit(code);
        return code;
    }

    /// <summary>How to start this program again as a worker: `dotnet opendllm.dll notebook worker`, or the single-file executable.</summary>
    static NotebookWorkerCommand WorkerCommand()
    {
        var assembly = typeof(NotebookCommand).Assembly.Location;
        var process = Environment.ProcessPath;
        if (string.IsNullOrEmpty(assembly) && process is not null) return new(process, ["notebook", "worker"]);
        var dotnet = process is not null && Path.GetFileNameWithoutExtension(process) == "dotnet" ? process
            : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } hostPath && File.Exists(hostPath) ? hostPath
            : Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", "..",
                                            OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet"));
        if (!File.Exists(dotnet)) throw new FileNotFoundException($"cannot find the dotnet host to start the notebook worker (looked for {dotnet})");
        return new(dotnet, [assembly, "notebook", "worker"]);
    }

    static Dictionary<string, string> ParseParameters(string[] parameterArgs)
    {
        var overrides = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var arg in parameterArgs)
        {
            var eq = arg.IndexOf('=');
            if (eq <= 0 || arg[..eq].Trim().Length == 0) throw new ArgumentException($"--param {arg}: expected name=value");
            var name = arg[..eq].Trim();
            if (overrides.TryGetValue(name, out var earlier))
                throw new ArgumentException($"--param {name}: given twice ({earlier} and {arg[(eq + 1)..]}); give each parameter once");
            overrides[name] = arg[(eq + 1)..];
        }
        return overrides;
    }

    /// <summary>Seconds as a positive number up to <see cref="NotebookRunOptions.MaxCellTimeout"/>; 0 or "none" for no limit; default 30 minutes.</summary>
    internal static TimeSpan? ParseTimeout(string? text)
    {
        if (text is null) return NotebookRunOptions.DefaultCellTimeout;
        var max = NotebookRunOptions.MaxCellTimeout.TotalSeconds;
        if (text.Trim().Equals("none", StringComparison.OrdinalIgnoreCase)) return null;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || !double.IsFinite(seconds))
            throw new ArgumentException($"--timeout-seconds {text}: not a number of seconds (give a positive number, or 0 or none for no limit)");
        if (seconds == 0) return null;
        if (seconds < 0) throw new ArgumentException($"--timeout-seconds {text}: must be positive (or 0 or none for no limit)");
        if (seconds > max)
            throw new ArgumentException($"--timeout-seconds {text}: too long; at most {max:0} s (about {max / 86400:0.#} days), or 0 or none for no limit");
        return TimeSpan.FromSeconds(Math.Max(seconds, 0.001));
    }

    internal static long ParseMib(string option, string? text, long defaultBytes)
    {
        if (text is null) return defaultBytes;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var mib) || !double.IsFinite(mib))
            throw new ArgumentException($"{option} {text}: not a number of MiB");
        if (mib <= 0 || mib > MaxOutputMib) throw new ArgumentException($"{option} {text}: must be more than 0 and at most {MaxOutputMib:0} MiB");
        return Math.Max(1, (long)(mib * (1 << 20)));
    }

    /// <summary>Fails before the run, not after it, when the executed notebook could not be written.</summary>
    static void EnsureWritable(string outputPath)
    {
        if (Directory.Exists(outputPath)) throw new IOException($"--output {outputPath}: is a folder; give the path of the .ipynb to write");
        var folder = Path.GetDirectoryName(Path.GetFullPath(outputPath))!;
        var existing = folder;
        while (!Directory.Exists(existing))
        {
            if (File.Exists(existing)) throw new IOException($"--output {outputPath}: {existing} is a file, not a folder");
            existing = Path.GetDirectoryName(existing)!;
        }
        try
        {
            using (File.Create(Path.Combine(existing, $".opendllm-write-check-{Guid.NewGuid():N}"), 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"--output {outputPath}: cannot write in {existing} ({e.Message})", e);
        }
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

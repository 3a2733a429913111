using System.Diagnostics;
using System.Runtime.InteropServices;
using OpenDllm.Models;
using OpenDllm.Training;

namespace OpenDllm.Tests.Cli;

/// <summary>
/// <c>opendllm train</c> as a child process, stopped by signals once training has started (the first progress line on
/// stdout): every stop finishes the step, saves a complete checkpoint and exits with 130 (<c>ExitCodes.Interrupted</c>).
/// </summary>
public sealed partial class SignalTests : IDisposable
{
    const int Sigint = 2, Sigterm = 15;
    static readonly TimeSpan Hang = TimeSpan.FromMinutes(5);               // only a hang fails on time, never slowness
    readonly string _root = Directory.CreateTempSubdirectory("opendllm-signals-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    static extern int Kill(int pid, int signal);

    /// <summary>The CLI built beside these tests (same configuration), run with the same dotnet host.</summary>
    static string CliDll()
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}") ? "Debug" : "Release";
        var dll = Path.Combine(TestPaths.RepoRoot, "OpenDllm.Cli", "bin", configuration, "net10.0", "opendllm.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: build the solution ({configuration}) first");
        return dll;
    }

    string Corpus()
    {
        var dir = Path.Combine(_root, "corpus");
        Directory.CreateDirectory(dir);
        var rng = new Random(2);
        for (int f = 0; f < 30; f++)
            File.WriteAllText(Path.Combine(dir, $"m{f}.py"), string.Concat(Enumerable.Range(0, 12).Select(i =>
                $"def f{f}_{i}(x):\n    return x * {rng.Next(100)} + {rng.Next(10)}\n")));
        return dir;
    }

    string TinyRecipe(string output)
    {
        var path = Path.Combine(_root, "recipe.yaml");
        File.WriteAllText(path, $$"""
            model: { preset: tiny, config: { vocab_size: 262, hidden_size: 32, intermediate_size: 64 } }
            data: { source: folder, path: {{Corpus()}}, tokenizer: byte, prepare_dir: {{Path.Combine(_root, "shards")}}, val_fraction: 0.2, seq_len: 32 }
            train: { micro_batch_size: 2, global_batch_size: 2, max_steps: 1000000, eval_every: 0, eval_batches: 1, save_every: 0,
                     log_every: 1, seed: 0, threads: 1, output_dir: {{output}} }
            """);
        return path;
    }

    sealed record Outcome(int ExitCode, string Stdout, string Stderr);

    /// <summary>Starts the CLI, waits for a progress line ("step N/M") on stdout, sends the signals, waits for the exit.</summary>
    static async Task<Outcome> RunAndSignal(string[] arguments, string workingDirectory, params (int Signal, int DelayMs)[] signals)
    {
        // A process started in the background of a non-interactive shell (`cmd &`, as CI scripts may run the suite) inherits
        // SIGINT as ignored, and .NET keeps an ignored SIGINT ignored; `env --default-signal` gives the CLI the disposition
        // a user's terminal gives it.
        var info = new ProcessStartInfo("env") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory };
        info.ArgumentList.Add("--default-signal=INT,TERM");
        info.ArgumentList.Add("dotnet");
        info.ArgumentList.Add(CliDll());
        foreach (var a in arguments) info.ArgumentList.Add(a);
        using var process = new Process { StartInfo = info };
        var stdout = new System.Text.StringBuilder();
        var stderr = new System.Text.StringBuilder();
        var training = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (stdout) stdout.AppendLine(e.Data);
            if (StepLine().IsMatch(e.Data)) training.TrySetResult();
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var started = await Task.WhenAny(training.Task, process.WaitForExitAsync(), Task.Delay(Hang));
            Assert.True(started == training.Task, $"training never started:\n{stdout}\n{stderr}");
            foreach (var (signal, delay) in signals)
            {
                if (delay > 0) await Task.Delay(delay);
                if (Kill(process.Id, signal) != 0) Assert.True(process.HasExited, $"kill failed: errno {Marshal.GetLastPInvokeError()}");
            }
            using var cancel = new CancellationTokenSource(Hang);
            await process.WaitForExitAsync(cancel.Token);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        process.WaitForExit();                                              // flush the redirected streams
        return new Outcome(process.ExitCode, stdout.ToString(), stderr.ToString());
    }

    static void AssertSavedAndComplete(string output, Outcome outcome)
    {
        var describe = $"exit {outcome.ExitCode}\nstdout:\n{outcome.Stdout}\nstderr:\n{outcome.Stderr}";
        Assert.True(outcome.ExitCode == 130, describe);
        Assert.Contains("interrupted at step", outcome.Stdout);
        var checkpoints = CheckpointStore.List(output);
        Assert.True(checkpoints.Count > 0, describe);
        var (step, latest) = checkpoints[^1];
        Assert.True(step >= 1, describe);
        Assert.Equal(step, TrainerState.Load(latest).Step);
        using (var model = Qwen2Model.FromPretrained(latest)) Assert.True(model.ParameterCount > 0);
        Assert.Empty(Directory.EnumerateDirectories(output, ".*"));           // no half-written checkpoint
    }

    /// <summary>Regression: SIGTERM killed training at once and saved nothing.</summary>
    [Fact]
    public async Task SigtermFinishesTheStepSavesAndExitsWith130()
    {
        var output = Path.Combine(_root, "run");
        var outcome = await RunAndSignal(["train", TinyRecipe(output)], _root, (Sigterm, 0));
        AssertSavedAndComplete(output, outcome);
        Assert.Contains("SIGTERM", outcome.Stderr);
    }

    [Fact]
    public async Task SigintFinishesTheStepEvaluatesSavesAndExitsWith130()
    {
        var output = Path.Combine(_root, "run");
        var outcome = await RunAndSignal(["train", TinyRecipe(output)], _root, (Sigint, 0));
        AssertSavedAndComplete(output, outcome);
        var evaluations = MetricsLog.Read(Path.Combine(output, MetricsLog.FileName)).Where(m => m.ContainsKey("val_nelbo_bits")).ToList();
        Assert.Equal(CheckpointStore.List(output)[^1].Step, (long)evaluations[^1]["step"]!);   // the final evaluation ran
    }

    /// <summary>Regression: a second Ctrl-C 0.05–0.1 s after the first exited mid-libtorch-op and crashed (aten::narrow assert).</summary>
    [Fact]
    public async Task TwoQuickSigintsNeverCrashAndStillSave()
    {
        var output = Path.Combine(_root, "run");
        var outcome = await RunAndSignal(["train", TinyRecipe(output)], _root, (Sigint, 0), (Sigint, 75), (Sigint, 25));
        AssertSavedAndComplete(output, outcome);
        Assert.DoesNotContain("Unhandled", outcome.Stderr);
    }

    [Fact]
    public async Task QuickstartIsInterruptedTheSameWay()
    {
        var output = Path.Combine(_root, "quickstart");
        var outcome = await RunAndSignal(["quickstart", "--output", output, "--data.path=" + Corpus(), "--train.eval_batches=1",
                                          "--train.threads=1", "--train.micro_batch_size=2", "--train.global_batch_size=2", "--train.log_every=1"],
                                         _root, (Sigint, 0));
        AssertSavedAndComplete(output, outcome);
        Assert.False(File.Exists(Path.Combine(output, "report.html")));        // stopped: no demo, no report
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^\s*step\s+\d+/\d+")]
    private static partial System.Text.RegularExpressions.Regex StepLine();
}

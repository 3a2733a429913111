using System.CommandLine;
using System.Runtime.InteropServices;
using OpenDllm.Data;
using OpenDllm.Distributed;
using OpenDllm.Runtime;
using OpenDllm.Training;
using Spectre.Console;

namespace OpenDllm.Cli.Commands;

/// <summary>
/// `opendllm train RECIPE [--section.key=value ...]`: trains a recipe, resuming when the output folder holds a checkpoint.
/// Ctrl-C or SIGTERM finishes the current step, saves a checkpoint and exits with <see cref="ExitCodes.Interrupted"/> (130).
/// </summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var recipe = new Argument<string>("recipe") { Description = "YAML recipe (recipes/quickstart.yaml, recipes/ar-baseline.yaml, …)." };
        var model = new ModelOptions();
        var command = new Command("train", "Train a recipe; extra --section.key=value arguments override it (e.g. --train.micro_batch_size=16).")
        {
            recipe,
        };
        model.AddTo(command);
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(p => CliErrors.Run(() =>
        {
            var overrides = p.UnmatchedTokens.ToList();
            overrides.AddRange(model.AsRecipeOverrides(p));
            foreach (var o in overrides)
                if (!o.StartsWith("--") || !o.Contains('='))
                    throw new ArgumentException($"unexpected argument '{o}'; overrides look like --train.lr=1e-3");
            var loaded = Recipe.Load(p.GetValue(recipe)!, overrides);
            return RunJob(loaded, parallel => Interruptible(() => ExitCode(Run(loaded, parallel).Summary)));
        }));
        return command;
    }

    /// <summary>
    /// Joins the job this process was launched into (<see cref="Collectives.FromEnvironment"/>: <c>mpirun</c>, or
    /// <c>opendllm launch</c> on CUDA), prints <c>world size N (backend)</c>, silences the console of ranks other than 0
    /// (their errors still go to stderr) and runs <paramref name="train"/>. The group is closed (MPI finalised) only when
    /// the rank succeeded: a failed rank exits without it, so that the launcher stops the whole job instead of hanging.
    /// </summary>
    public static int RunJob(Recipe recipe, Func<DataParallel, int> train)
    {
        TorchRuntime.EnsureLoaded();
        var device = Collectives.LocalDevice(TorchRuntime.ParseDevice(recipe.Train.Device, "train.device"));
        var group = Collectives.FromEnvironment(device);
        if (group.WorldSize == 1 && group is SingleProcessGroup) return train(DataParallel.Single);
        var parallel = new DataParallel(group, group is NcclGroup ? device : TorchSharp.torch.CPU);
        var stdout = Console.Out;
        if (group.Rank == 0)
            Console.WriteLine($"world size {group.WorldSize} ({group.Backend}): rank 0 reports; every rank trains "
                + $"{recipe.Train.GlobalBatchSize / group.WorldSize} of the {recipe.Train.GlobalBatchSize} sequences of a step");
        else Console.SetOut(TextWriter.Null);
        try
        {
            int code = train(parallel);
            if (code == ExitCodes.Ok || code == ExitCodes.Interrupted) group.Dispose();
            return code;
        }
        finally
        {
            if (group.Rank != 0) Console.SetOut(stdout);
        }
    }

    /// <summary>
    /// Runs a recipe with progress on the console (live on a terminal, plain lines otherwise); shared with quickstart.
    /// SIGINT (Ctrl-C) and SIGTERM never kill the process mid-step: the first SIGINT finishes the step, evaluates and
    /// saves; SIGTERM, or a second signal, skips the evaluation and saves after the step; later ones are acknowledged.
    /// The summary says <see cref="TrainSummary.Interrupted"/>; a signal during data preparation throws
    /// <see cref="OperationCanceledException"/> (nothing written).
    /// </summary>
    public static (TrainSummary Summary, string DataDirectory) Run(Recipe recipe, DataParallel? parallel = null)
    {
        // model.init_from_recipe: the base run's newest checkpoint, training that run first when it has none (before this
        // run registers its signal handlers: the base run has its own)
        recipe = BaseRun.Resolve(recipe, baseRecipe =>
        {
            var (baseSummary, _) = Run(baseRecipe, parallel);
            if (baseSummary.Interrupted)
                throw new BaseRunInterruptedException($"the base run ({baseRecipe.Train.OutputDir}) was interrupted and saved; run the same command again to resume it");
            return baseSummary.Checkpoint!;
        }, note => Console.WriteLine(note));
        using var stop = new CancellationTokenSource();
        using var abort = new CancellationTokenSource();
        int signals = 0;
        void OnSignal(PosixSignalContext context)
        {
            // Never the runtime's default (terminating the process): it would exit while libtorch works on other threads.
            context.Cancel = true;
            int count = Interlocked.Increment(ref signals);
            var name = context.Signal == PosixSignal.SIGTERM ? "SIGTERM" : "interrupt";
            if (count == 1 && context.Signal != PosixSignal.SIGTERM)
                Console.Error.WriteLine($"{name}: finishing this step, then evaluating and saving a checkpoint (Ctrl-C again: skip the evaluation)");
            else if (!abort.IsCancellationRequested)
                Console.Error.WriteLine($"{name}: finishing this step, then saving a checkpoint without evaluating");
            else
                Console.Error.WriteLine($"{name}: already stopping; the checkpoint is saved as soon as the step ends");
            if (count > 1 || context.Signal == PosixSignal.SIGTERM) abort.Cancel();
            stop.Cancel();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

        Console.WriteLine($"preparing data and model ({recipe.Data.Shards ?? recipe.Data.PrepareDir ?? "data folder derived from data.source"}) ...");
        using var trainer = Trainer.Create(recipe, new Reporter<PrepareProgress>(pp =>
        {
            if (pp.Done) Console.WriteLine($"  data: {pp.Documents:N0} documents, {pp.Tokens:N0} tokens in {pp.Elapsed.TotalSeconds:F1} s");
        }), stop.Token, note => Console.WriteLine($"  {note}"), parallel);
        var size = trainer.TrainsOwnModules   // LDLM & co.: the method's modules are trained, the LM is frozen
            ? $"{trainer.TrainedParameterCount:N0} trained parameters around a frozen language model of {trainer.Model.ParameterCount:N0}"
            : $"{trainer.Model.ParameterCount:N0} parameters";
        Console.WriteLine($"model: {size}, objective {recipe.Train.Objective}, device {trainer.Device}, "
                          + $"data {trainer.DataDirectory}, output {recipe.Train.OutputDir}"
                          + (trainer.ResumedFrom is { } r ? $", resuming from {r} at step {trainer.Step}" : ""));
        Console.WriteLine($"precision: {TrainingPrecisions.Resolve(trainer.Recipe.Train).Describe()}");
        var summary = RunWithProgress(trainer, stop.Token, abort.Token);
        Console.WriteLine(summary.Interrupted ? $"interrupted at step {summary.Steps}; run the same command again to resume"
                                              : $"finished {summary.Steps} steps in {summary.Elapsed:hh\\:mm\\:ss}");
        if (summary.First is { } f) Console.WriteLine($"{f.Metric} at step {f.Step}: {f.BitsPerToken:F4}");
        if (summary.Last is { } l) Console.WriteLine($"{l.Metric} at step {l.Step}: {l.BitsPerToken:F4}");
        Console.WriteLine($"checkpoint: {summary.Checkpoint}");
        return (summary, trainer.DataDirectory);
    }

    /// <summary>The exit code of a training command: <see cref="ExitCodes.Interrupted"/> when a signal stopped it, else 0.</summary>
    public static int ExitCode(TrainSummary summary) => summary.Interrupted ? ExitCodes.Interrupted : ExitCodes.Ok;

    /// <summary>Runs <paramref name="train"/>, mapping a signal during data preparation to <see cref="ExitCodes.Interrupted"/>.</summary>
    public static int Interruptible(Func<int> train)
    {
        try { return train(); }
        catch (BaseRunInterruptedException e)
        {
            Console.Error.WriteLine(e.Message);
            return ExitCodes.Interrupted;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("interrupted while preparing the data; nothing was trained");
            return ExitCodes.Interrupted;
        }
    }

    static TrainSummary RunWithProgress(Trainer trainer, CancellationToken token, CancellationToken abort)
    {
        void Eval(EvalResult e) => Console.WriteLine($"  step {e.Step,6}  {e.Metric} {e.BitsPerToken:F4} bits/token"
            + (e.Extras is { Count: > 0 } extras ? "  " + string.Join("  ", extras.Select(x => $"val_{x.Key} {x.Value:G5}")) : ""));
        if (!AnsiConsole.Profile.Capabilities.Interactive || Console.IsOutputRedirected)
        {
            long last = -1;
            var plain = new Reporter<TrainProgress>(p =>
            {
                if (p.Step / Math.Max(1, trainer.Recipe.Train.LogEvery * 5) == last && p.Step != p.TotalSteps) return;
                last = p.Step / Math.Max(1, trainer.Recipe.Train.LogEvery * 5);
                Console.WriteLine($"  step {p.Step,6}/{p.TotalSteps}  loss {p.Loss,8:F4}  lr {p.LearningRate:E2}  {p.TokensPerSecond,7:N0} tok/s  "
                                  + $"elapsed {p.Elapsed:mm\\:ss}  eta {p.Remaining:mm\\:ss}");
            });
            return trainer.Run(token, plain, Eval, abort);
        }
        TrainSummary? summary = null;
        AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("training", maxValue: trainer.TotalSteps);
                summary = trainer.Run(token, new Reporter<TrainProgress>(p =>
                {
                    task.MaxValue = p.TotalSteps;
                    task.Value = p.Step;
                    task.Description = $"step {p.Step}/{p.TotalSteps} loss {p.Loss:F3} {p.TokensPerSecond:N0} tok/s";
                }), Eval, abort);
            });
        return summary!;
    }

    /// <summary>A signal stopped the base run of <c>model.init_from_recipe</c>; it saved a checkpoint, this run did not start.</summary>
    sealed class BaseRunInterruptedException(string message) : OperationCanceledException(message);

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    public sealed class Reporter<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}

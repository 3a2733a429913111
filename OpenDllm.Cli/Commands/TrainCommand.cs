using System.CommandLine;
using OpenDllm.Data;
using OpenDllm.Training;
using Spectre.Console;

namespace OpenDllm.Cli.Commands;

/// <summary>
/// `opendllm train RECIPE [--section.key=value ...]`: trains a recipe, resuming when the output folder holds a checkpoint.
/// Ctrl-C finishes the current step, saves a checkpoint and exits cleanly.
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
            var summary = Run(loaded);
            return 0;
        }));
        return command;
    }

    /// <summary>Runs a recipe with progress on the console (live on a terminal, plain lines otherwise); shared with quickstart.</summary>
    public static TrainSummary Run(Recipe recipe)
    {
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            if (!cancel.IsCancellationRequested) Console.Error.WriteLine("interrupt: finishing this step, then saving a checkpoint (Ctrl-C again to abort)");
            else Environment.Exit(130);
            cancel.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            Console.WriteLine($"preparing data and model ({recipe.Data.Shards ?? recipe.Data.PrepareDir}) ...");
            using var trainer = Trainer.Create(recipe, new Reporter<PrepareProgress>(pp =>
            {
                if (pp.Done) Console.WriteLine($"  data: {pp.Documents:N0} documents, {pp.Tokens:N0} tokens in {pp.Elapsed.TotalSeconds:F1} s");
            }));
            Console.WriteLine($"model: {trainer.Model.ParameterCount:N0} parameters, objective {recipe.Train.Objective}, device {trainer.Device}, "
                              + $"output {recipe.Train.OutputDir}" + (trainer.ResumedFrom is { } r ? $", resuming from {r} at step {trainer.Step}" : ""));
            Console.WriteLine($"precision: {TrainingPrecisions.Resolve(trainer.Recipe.Train).Describe()}");
            var summary = RunWithProgress(trainer, cancel.Token);
            Console.WriteLine(summary.Interrupted ? $"interrupted at step {summary.Steps}" : $"finished {summary.Steps} steps in {summary.Elapsed:hh\\:mm\\:ss}");
            if (summary.First is { } f) Console.WriteLine($"{f.Metric} at step {f.Step}: {f.BitsPerToken:F4}");
            if (summary.Last is { } l) Console.WriteLine($"{l.Metric} at step {l.Step}: {l.BitsPerToken:F4}");
            Console.WriteLine($"checkpoint: {summary.Checkpoint}");
            return summary;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    static TrainSummary RunWithProgress(Trainer trainer, CancellationToken token)
    {
        void Eval(EvalResult e) => Console.WriteLine($"  step {e.Step,6}  {e.Metric} {e.BitsPerToken:F4} bits/token");
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
            return trainer.Run(token, plain, Eval);
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
                }), Eval);
            });
        return summary!;
    }

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    public sealed class Reporter<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}

using System.CommandLine;
using System.Text.Json.Nodes;
using OpenDllm.Data;
using OpenDllm.Inference;
using OpenDllm.Interactive;
using OpenDllm.Sampling;
using OpenDllm.Training;

namespace OpenDllm.Cli.Commands;

/// <summary>
/// `opendllm quickstart`: the main job. Prepares the default corpus (this machine's Python standard library), trains
/// recipes/quickstart.yaml for a bounded time, saves the checkpoint, reports the validation NELBO before and after, and
/// fills lines of held-out code back in with the confidence sampler.
/// </summary>
public static class QuickstartCommand
{
    public static Command Create()
    {
        var minutes = new Option<double>("--minutes") { Description = "Training time budget.", DefaultValueFactory = _ => 5.0 };
        var output = new Option<string>("--output") { Description = "Run folder.", DefaultValueFactory = _ => "runs/quickstart" };
        var fresh = new Option<bool>("--fresh") { Description = "Delete an earlier quickstart run in --output first." };
        var demos = new Option<int>("--demo-tasks") { Description = "Held-out lines to fill in for the exact-match score.", DefaultValueFactory = _ => 20 };
        var model = new ModelOptions();
        var command = new Command("quickstart", "Train a small diffusion coder on the Python standard library for a few minutes, then infill held-out code.")
        {
            minutes, output, fresh, demos,
        };
        model.AddTo(command);
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(p => CliErrors.Run(() => Run(p.GetValue(minutes), p.GetValue(output)!, p.GetValue(fresh), p.GetValue(demos),
                                                       [.. p.UnmatchedTokens, .. model.AsRecipeOverrides(p)])));
        return command;
    }

    /// <summary>The shipped quickstart recipe (recipes/quickstart.yaml, embedded so the command runs from any folder).</summary>
    public static string EmbeddedRecipe()
    {
        using var stream = typeof(QuickstartCommand).Assembly.GetManifestResourceStream("recipes.quickstart.yaml")!;
        return new StreamReader(stream).ReadToEnd();
    }

    static int Run(double minutes, string output, bool fresh, int demoTasks, IReadOnlyList<string> extra)
    {
        if (minutes <= 0) throw new ArgumentOutOfRangeException("--minutes", minutes, "--minutes must be positive");
        if (fresh && Directory.Exists(output))
        {
            if (CheckpointStore.List(output).Count == 0 && !File.Exists(Path.Combine(output, MetricsLog.FileName)) && Directory.EnumerateFileSystemEntries(output).Any())
                throw new IOException($"{output}: not a quickstart run folder; refusing to delete it with --fresh");
            Directory.Delete(output, recursive: true);
        }
        var recipe = Recipe.Parse(EmbeddedRecipe(), "recipes/quickstart.yaml",
            [$"--train.max_minutes={minutes.ToString(System.Globalization.CultureInfo.InvariantCulture)}", $"--train.output_dir={output}", .. extra]);
        return TrainCommand.Interruptible(() =>
        {
            var (summary, data) = TrainCommand.Run(recipe);
            return summary.Interrupted ? ExitCodes.Interrupted : Report(summary, data, recipe, output, demoTasks);
        });
    }

    /// <summary>The NELBO before and after, the infill demo and the HTML report of a finished run.</summary>
    static int Report(TrainSummary summary, string data, Recipe recipe, string output, int demoTasks)
    {

        var evals = MetricsLog.Read(Path.Combine(output, MetricsLog.FileName)).Where(m => m.ContainsKey("val_nelbo_bits")).ToList();
        if (evals.Count >= 2)
            Console.WriteLine($"\nvalidation NELBO: {(double)evals[0]["val_nelbo_bits"]!:F3} → {(double)evals[^1]["val_nelbo_bits"]!:F3} bits/token "
                              + $"(step {(long)evals[0]["step"]!} → {(long)evals[^1]["step"]!})");
        var (demoText, trajectory, tokenizer) = Demo(summary.Checkpoint!, data, demoTasks,
                                                    Runtime.TorchRuntime.ParseDevice(recipe.Train.Device, "--device"));
        var report = HtmlReport.Create("OpenDllm quickstart")
            .AddParagraph($"Checkpoint {summary.Checkpoint}: {summary.Steps} steps in {summary.Elapsed:hh\\:mm\\:ss}.")
            .Add(TrainingCurves.Load(("quickstart", output)), "Training curves (loss, validation NELBO, learning rate)");
        if (trajectory is not null) report.Add(trajectory, tokenizer, "Infill demo 1: the denoising order (move the slider)");
        report.AddPreformatted(demoText);
        Console.WriteLine($"report: {report.Save(Path.Combine(output, "report.html"))}");
        return 0;
    }

    /// <summary>Fills held-out single lines back in (oracle length, maskgit_plus with as many steps as masked tokens) and
    /// prints a few; returns the printed text and the first demo's trajectory for the report.</summary>
    static (string Text, Sampling.Trajectory? Trajectory, Tokenization.ITokenizer Tokenizer) Demo(string checkpoint, string shards, int count,
                                                                                        TorchSharp.torch.Device device)
    {
        var text = new StringWriter();
        var pipeline = DiffusionPipeline.Load(checkpoint, device);
        using var set = TokenShardSet.Open(shards, verify: false);
        var tasks = HeldOutInfill.Tasks(set.Validation, pipeline.Tokenizer, count, seed: 1);
        bool first = true;
        var scored = HeldOutInfill.Score(pipeline, tasks, n =>
        {
            var sampler = new MaskedDiffusionSampler(new() { Steps = n, RecordTrajectory = first });
            first = false;
            return sampler;
        });
        int exact = scored.Count(r => r.Exact);
        foreach (var (r, i) in scored.Take(3).Select((r, i) => (r, i)))
        {
            text.WriteLine($"\n--- infill demo {i + 1}: {r.Task.Id} ({pipeline.TokenCount(r.Task.Middle)} masked tokens) ---");
            foreach (var line in r.Task.Prefix.Split('\n').TakeLast(3)) text.WriteLine($"    {line}");
            text.WriteLine($"  truth: {r.Task.Middle}");
            text.WriteLine($"  model: {r.Generation.Text.Replace("\n", "⏎")}{(r.Exact ? "   ✓ exact" : "")}");
            foreach (var line in r.Task.Suffix.Split('\n').Skip(1).Take(2)) text.WriteLine($"    {line}");
        }
        text.WriteLine($"\ninfill exact match on {tasks.Count} held-out lines: {exact}/{tasks.Count}");
        Console.Write(text.ToString());
        Console.WriteLine($"try: dotnet run --project OpenDllm.Cli -c Release -- infill {checkpoint} --prefix-file P --suffix-file S --length 16");
        return (text.ToString(), scored.Count > 0 ? scored[0].Generation.Output.Trajectory : null, pipeline.Tokenizer);
    }
}

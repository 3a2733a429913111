using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using OpenDllm.Data;
using OpenDllm.Inference;
using OpenDllm.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Cli.Commands.Bench;

public static partial class BenchCommand
{
    const int Prompt = 32, Gen = 128, GenSteps = 128;

    /// <summary>`bench sample`: bench_ref.py's sampling run (prompt 32, 128 tokens, 128 steps, greedy maskgit_plus, Dream schedule).</summary>
    static Command CreateSample(Option<int> threads, Option<string?> output, Option<string?> deviceOption)
    {
        var reps = new Option<int>("--reps") { Description = "Timed runs.", DefaultValueFactory = _ => 3 };
        var command = new Command("sample", "Vanilla confidence sampling on the bench model, as bench_ref.py --only sample.") { threads, reps, output, deviceOption };
        command.SetAction(p => CliErrors.Run(() =>
        {
            var (report, device) = Start(p.GetValue(threads), p.GetValue(output), "sample", p.GetValue(deviceOption));
            var denoiser = new ModelDenoiser(BenchModel(device), MaskId, shiftedLogits: true);
            var prompt = randint(0, MaskId, [1, Prompt], generator: new Generator(2), dtype: ScalarType.Int64);
            var canvas = new Canvas(cat([prompt, full(1, Gen, MaskId, dtype: ScalarType.Int64)], 1).to(device));
            var sampler = new MaskedDiffusionSampler(new() { Steps = GenSteps, SkipEmptySteps = false });   // as the reference: 128 forwards
            int forwards = 0;
            using var noGrad = no_grad();
            var times = BenchReport.Time(() => { using var s = NewDisposeScope(); forwards = sampler.Sample(denoiser, canvas).Forwards; }, 1, p.GetValue(reps));
            var record = new JsonObject
            {
                ["bench"] = "sample", ["batch"] = 1, ["prompt"] = Prompt, ["gen_len"] = Gen, ["steps"] = GenSteps,
                ["alg"] = "maskgit_plus greedy, dream schedule", ["forwards"] = forwards,
            };
            foreach (var (k, v) in BenchReport.Summary(times)) record[k] = v?.DeepClone();
            record["tokens_per_s"] = Gen / BenchReport.Median(times);
            record["counted"] = BenchReport.CountedGenerated;
            record["ms_per_forward"] = 1000 * BenchReport.Median(times) / forwards;
            report.Emit(record);
            report.Finish();
            return 0;
        }));
        return command;
    }

    /// <summary>
    /// `bench samplers`: one workload (256 new tokens after a 32-token prompt) for every sampler family, on a trained checkpoint
    /// (e.g. the quickstart's) or the bench model; with a checkpoint and its shards also single-line infill exact match on
    /// held-out code. <c>--block-checkpoint</c> gives the block rows their own (BD3LM-trained) checkpoint; every row names the
    /// checkpoint it used.
    /// </summary>
    static Command CreateSamplers(Option<int> threads, Option<string?> output, Option<string?> deviceOption)
    {
        var checkpoint = new Option<string?>("--checkpoint") { Description = "Checkpoint directory (default: the random bench model)." };
        var blockCheckpoint = new Option<string?>("--block-checkpoint") { Description = "Checkpoint for the block sampler rows, e.g. a BD3LM-trained one (default: --checkpoint)." };
        var blockLength = new Option<int>("--block-length") { Description = "Block size of the block and Fast-dLLM samplers (use the BD3LM training block size).", DefaultValueFactory = _ => 32 };
        var shards = new Option<string>("--shards") { Description = "Token shards for held-out infill tasks.", DefaultValueFactory = _ => DefaultCorpus.DefaultOutputDirectory };
        var tasks = new Option<int>("--infill-tasks") { Description = "Held-out single-line infill tasks (needs --checkpoint).", DefaultValueFactory = _ => 40 };
        var length = new Option<int>("--length") { Description = "New tokens.", DefaultValueFactory = _ => 256 };
        var only = new Option<string?>("--samplers") { Description = $"Comma-separated subset of: {string.Join(", ", BenchedSamplers)} (default: all)." };
        var command = new Command("samplers", "Tokens/s and forwards of vanilla, Fast-dLLM (prefix, dual), block and AR samplers on one workload.")
        { threads, output, checkpoint, blockCheckpoint, blockLength, shards, tasks, length, only, deviceOption };
        var shifted = new Option<string?>("--shifted") { Description = "true|false: override the checkpoint's logit alignment (SPEC §2.3)." };
        shifted.AcceptOnlyFromAmong("true", "false");
        command.Add(shifted);
        command.SetAction(p => CliErrors.Run(() =>
        {
            if (p.GetValue(blockLength) < 1) throw new ArgumentOutOfRangeException("--block-length", p.GetValue(blockLength), "--block-length must be ≥ 1");
            if (p.GetValue(blockCheckpoint) is not null && p.GetValue(checkpoint) is null)
                throw new ArgumentException("--block-checkpoint needs --checkpoint (the model of the other rows)");
            var chosen = p.GetValue(only) is { } list ? list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) : BenchedSamplers;
            if (chosen.FirstOrDefault(name => !BenchedSamplers.Contains(name)) is { } unknown || chosen.Length == 0)
                throw new ArgumentException($"--samplers: '{p.GetValue(only)}' is not a subset of {string.Join(", ", BenchedSamplers)}");
            var (report, device) = Start(p.GetValue(threads), p.GetValue(output), "samplers", p.GetValue(deviceOption));
            bool? shift = p.GetValue(shifted) is { } text ? text == "true" : null;
            DiffusionPipeline? pipeline = p.GetValue(checkpoint) is { } dir ? DiffusionPipeline.Load(dir, device, shift) : null;
            DiffusionPipeline? blockPipeline = p.GetValue(blockCheckpoint) is { } blockDir ? DiffusionPipeline.Load(blockDir, device, shift) : pipeline;
            string modelName = p.GetValue(checkpoint) ?? "bench (random)", blockModelName = p.GetValue(blockCheckpoint) ?? modelName;
            IDenoiser denoiser = pipeline?.Denoiser ?? new ModelDenoiser(BenchModel(device), MaskId, shiftedLogits: true);
            int n = p.GetValue(length);
            var prompt = pipeline is null
                ? randint(0, MaskId, [1, Prompt], generator: new Generator(2), dtype: ScalarType.Int64)
                : tensor(pipeline.Tokenizer.Encode("import os\nimport sys\n\n\ndef main(argv):\n    ").Select(i => (long)i).ToArray()).unsqueeze(0);
            var settings = new SamplerSettings { Steps = n, BlockLength = p.GetValue(blockLength), Threshold = 0.9 };
            using var noGrad = no_grad();
            foreach (var name in BenchedSamplers.Where(chosen.Contains))
            {
                bool block = name == "block";
                var rowDenoiser = block && blockPipeline is not null ? blockPipeline.Denoiser : denoiser;
                var canvas = new Canvas(cat([prompt, full(1, n, rowDenoiser.MaskId, dtype: ScalarType.Int64)], 1).to(device));
                var sampler = SamplerFactory.Create(name, settings);
                SamplerOutput? last = null;
                var times = BenchReport.Time(() => { using var s = NewDisposeScope(); last = sampler.Sample(rowDenoiser, canvas); }, 0, 1);
                var record = new JsonObject { ["bench"] = "sampler", ["sampler"] = sampler.Name, ["model"] = block ? blockModelName : modelName,
                                              ["prompt"] = prompt.shape[1], ["gen_len"] = n, ["forwards"] = last!.Forwards };
                if (name is "block" or "fast-dllm-dual" or "fast-dllm-prefix") record["block_length"] = settings.BlockLength;
                foreach (var (k, v) in BenchReport.Summary(times)) record[k] = v?.DeepClone();
                record["tokens_per_s"] = n / BenchReport.Median(times);
                record["counted"] = BenchReport.CountedGenerated;
                report.Emit(record);
            }
            if (pipeline is not null && p.GetValue(tasks) > 0)
                InfillQuality(report, pipeline, modelName, blockPipeline!, blockModelName, p.GetValue(shards)!, p.GetValue(tasks), settings.BlockLength, chosen);
            report.Finish();
            return 0;
        }));
        return command;
    }

    /// <summary>The samplers `bench samplers` runs, in order.</summary>
    static readonly string[] BenchedSamplers = ["maskgit_plus", "fast-dllm-prefix", "fast-dllm-dual", "block", "ar"];

    /// <summary>
    /// Exact match and speed of single-line infilling on held-out code (oracle length): vanilla and Fast-dLLM with prefix and
    /// suffix; then line completion from the prefix alone (the block sampler decodes left to right and cannot see a suffix)
    /// for vanilla on <paramref name="pipeline"/> and the block sampler on <paramref name="blockPipeline"/>.
    /// </summary>
    static void InfillQuality(BenchReport report, DiffusionPipeline pipeline, string modelName, DiffusionPipeline blockPipeline,
                              string blockModelName, string shardDir, int count, int blockLength, IReadOnlyCollection<string> chosen)
    {
        using var set = TokenShardSet.Open(shardDir, verify: false);
        var held = HeldOutInfill.Tasks(set.Validation, pipeline.Tokenizer, count, seed: 1);
        var prefixOnly = held.Select(task => task with { Suffix = "" }).ToList();
        foreach (var (name, rows, context, model, label) in new[]
                 {
                     ("maskgit_plus", held, "prefix+suffix", pipeline, modelName), ("fast-dllm-dual", held, "prefix+suffix", pipeline, modelName),
                     ("maskgit_plus", prefixOnly, "prefix", pipeline, modelName), ("block", prefixOnly, "prefix", blockPipeline, blockModelName),
                 })
        {
            if (!chosen.Contains(name)) continue;
            var clock = Stopwatch.StartNew();
            var scored = HeldOutInfill.Score(model, rows, n => SamplerFactory.Create(name, new SamplerSettings { Steps = n, BlockLength = blockLength }));
            int exact = scored.Count(r => r.Exact), forwards = scored.Sum(r => r.Generation.Output.Forwards);
            int tokens = scored.Sum(r => Math.Max(1, model.TokenCount(r.Task.Middle)));
            report.Emit(new JsonObject
            {
                ["bench"] = "infill_quality", ["sampler"] = name, ["context"] = context, ["model"] = label, ["tasks"] = rows.Count,
                ["exact_match"] = rows.Count == 0 ? 0 : (double)exact / rows.Count,
                ["forwards"] = forwards, ["tokens"] = tokens, ["tokens_per_s"] = tokens / clock.Elapsed.TotalSeconds,
                ["counted"] = BenchReport.CountedGenerated,
            });
        }
    }
}

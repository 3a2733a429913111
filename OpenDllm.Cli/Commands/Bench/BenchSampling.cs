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
            var denoiser = new Qwen2Denoiser(BenchModel(device), MaskId, shiftedLogits: true);
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
    /// held-out code for the vanilla and Fast-dLLM samplers.
    /// </summary>
    static Command CreateSamplers(Option<int> threads, Option<string?> output, Option<string?> deviceOption)
    {
        var checkpoint = new Option<string?>("--checkpoint") { Description = "Checkpoint directory (default: the random bench model)." };
        var shards = new Option<string>("--shards") { Description = "Token shards for held-out infill tasks.", DefaultValueFactory = _ => DefaultCorpus.DefaultOutputDirectory };
        var tasks = new Option<int>("--infill-tasks") { Description = "Held-out single-line infill tasks (needs --checkpoint).", DefaultValueFactory = _ => 40 };
        var length = new Option<int>("--length") { Description = "New tokens.", DefaultValueFactory = _ => 256 };
        var command = new Command("samplers", "Tokens/s and forwards of vanilla, Fast-dLLM (prefix, dual), block and AR samplers on one workload.")
        { threads, output, checkpoint, shards, tasks, length, deviceOption };
        var shifted = new Option<string?>("--shifted") { Description = "true|false: override the checkpoint's logit alignment (SPEC §2.3)." };
        shifted.AcceptOnlyFromAmong("true", "false");
        command.Add(shifted);
        command.SetAction(p => CliErrors.Run(() =>
        {
            var (report, device) = Start(p.GetValue(threads), p.GetValue(output), "samplers", p.GetValue(deviceOption));
            bool? shift = p.GetValue(shifted) is { } text ? text == "true" : null;
            DiffusionPipeline? pipeline = p.GetValue(checkpoint) is { } dir ? DiffusionPipeline.Load(dir, device, shift) : null;
            IDenoiser denoiser = pipeline?.Denoiser ?? new Qwen2Denoiser(BenchModel(device), MaskId, shiftedLogits: true);
            int n = p.GetValue(length);
            var prompt = pipeline is null
                ? randint(0, MaskId, [1, Prompt], generator: new Generator(2), dtype: ScalarType.Int64)
                : tensor(pipeline.Tokenizer.Encode("import os\nimport sys\n\n\ndef main(argv):\n    ").Select(i => (long)i).ToArray()).unsqueeze(0);
            var canvas = new Canvas(cat([prompt, full(1, n, denoiser.MaskId, dtype: ScalarType.Int64)], 1).to(device));
            var settings = new SamplerSettings { Steps = n, BlockLength = 32, Threshold = 0.9 };
            using var noGrad = no_grad();
            foreach (var name in new[] { "maskgit_plus", "fast-dllm-prefix", "fast-dllm-dual", "block", "ar" })
            {
                var sampler = SamplerFactory.Create(name, settings);
                SamplerOutput? last = null;
                var times = BenchReport.Time(() => { using var s = NewDisposeScope(); last = sampler.Sample(denoiser, canvas); }, 0, 1);
                var record = new JsonObject { ["bench"] = "sampler", ["sampler"] = sampler.Name, ["model"] = p.GetValue(checkpoint) ?? "bench (random)",
                                              ["prompt"] = prompt.shape[1], ["gen_len"] = n, ["forwards"] = last!.Forwards };
                foreach (var (k, v) in BenchReport.Summary(times)) record[k] = v?.DeepClone();
                record["tokens_per_s"] = n / BenchReport.Median(times);
                report.Emit(record);
            }
            if (pipeline is not null && p.GetValue(tasks) > 0)
                InfillQuality(report, pipeline, p.GetValue(shards)!, p.GetValue(tasks));
            report.Finish();
            return 0;
        }));
        return command;
    }

    /// <summary>Exact match and speed of vanilla vs Fast-dLLM single-line infilling on held-out code (oracle length).</summary>
    static void InfillQuality(BenchReport report, DiffusionPipeline pipeline, string shardDir, int count)
    {
        using var set = TokenShardSet.Open(shardDir, verify: false);
        var held = HeldOutInfill.Tasks(set.Validation, pipeline.Tokenizer, count, seed: 1);
        foreach (var name in new[] { "maskgit_plus", "fast-dllm-dual" })
        {
            var clock = Stopwatch.StartNew();
            var scored = HeldOutInfill.Score(pipeline, held, n => SamplerFactory.Create(name, new SamplerSettings { Steps = n, BlockLength = 32 }));
            int exact = scored.Count(r => r.Exact), forwards = scored.Sum(r => r.Generation.Output.Forwards);
            int tokens = scored.Sum(r => Math.Max(1, pipeline.TokenCount(r.Task.Middle)));
            report.Emit(new JsonObject
            {
                ["bench"] = "infill_quality", ["sampler"] = name, ["tasks"] = held.Count, ["exact_match"] = held.Count == 0 ? 0 : (double)exact / held.Count,
                ["forwards"] = forwards, ["tokens"] = tokens, ["tokens_per_s"] = tokens / clock.Elapsed.TotalSeconds,
            });
        }
    }
}

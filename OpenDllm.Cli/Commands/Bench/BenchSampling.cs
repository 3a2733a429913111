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
        var refreshIntervals = new Option<string>("--refresh-intervals")
        {
            Description = "fast-dllm-dkv: comma-separated refresh intervals, one row each (the trade-off curve).", DefaultValueFactory = _ => "1,2,4,8,16",
        };
        var command = new Command("samplers", "Tokens/s and forwards of vanilla, Fast-dLLM (uncached, prefix, dual, dKV delayed), block and AR samplers on one workload.")
        { threads, output, checkpoint, blockCheckpoint, blockLength, shards, tasks, length, only, refreshIntervals, deviceOption };
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
            var intervals = p.GetValue(refreshIntervals)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(t => int.TryParse(t, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var r) && r > 0 ? r
                    : throw new ArgumentException($"--refresh-intervals: '{t}' is not a positive integer")).ToArray();
            if (intervals.Length == 0) throw new ArgumentException("--refresh-intervals: give at least one interval");
            // the fast-dllm rows report agreement with uncached greedy Fast-dLLM decoding, so that row runs whenever one of them does
            if (chosen.Any(c => c.StartsWith("fast-dllm-", StringComparison.Ordinal))) chosen = [.. chosen, "fast-dllm-nocache"];
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
            long[]? uncached = null;                                                     // fast-dllm-nocache's generated tokens
            foreach (var (name, rowSettings) in Rows(BenchedSamplers.Where(chosen.Contains), settings, intervals))
            {
                bool block = name == "block", fast = name.StartsWith("fast-dllm-", StringComparison.Ordinal);
                var rowDenoiser = block && blockPipeline is not null ? blockPipeline.Denoiser : denoiser;
                var canvas = new Canvas(cat([prompt, full(1, n, rowDenoiser.MaskId, dtype: ScalarType.Int64)], 1).to(device));
                var sampler = SamplerFactory.Create(name, rowSettings);
                long[]? generated = null;
                int forwards = 0;
                var times = BenchReport.Time(() =>
                {
                    using var s = NewDisposeScope();
                    var output = sampler.Sample(rowDenoiser, canvas);
                    forwards = output.Forwards;
                    generated = output.Sequences[0].narrow(0, prompt.shape[1], n).cpu().data<long>().ToArray();
                }, 0, 1);
                var record = new JsonObject { ["bench"] = "sampler", ["sampler"] = sampler.Name, ["model"] = block ? blockModelName : modelName,
                                              ["prompt"] = prompt.shape[1], ["gen_len"] = n, ["forwards"] = forwards };
                if (block || fast) record["block_length"] = rowSettings.BlockLength;
                if (fast) record["threshold"] = rowSettings.Threshold;
                if (rowSettings.RefreshInterval is { } interval) record["refresh_interval"] = interval;
                foreach (var (k, v) in BenchReport.Summary(times)) record[k] = v?.DeepClone();
                record["tokens_per_s"] = n / BenchReport.Median(times);
                record["counted"] = BenchReport.CountedGenerated;                                         // generated tokens only, never the prompt
                if (name == "fast-dllm-nocache") uncached = generated;
                if (fast && uncached is not null)
                    record["token_match_vs_nocache"] = (double)generated!.Zip(uncached, (a, b) => a == b ? 1 : 0).Sum() / n;   // greedy (temperature 0)
                report.Emit(record);
            }
            if (pipeline is not null && p.GetValue(tasks) > 0)
                InfillQuality(report, pipeline, modelName, blockPipeline!, blockModelName, p.GetValue(shards)!, p.GetValue(tasks), settings.BlockLength, chosen, intervals);
            report.Finish();
            return 0;
        }));
        return command;
    }

    /// <summary>The samplers `bench samplers` runs, in order (fast-dllm-nocache first of the Fast-dLLM rows: the others are
    /// compared with its tokens).</summary>
    static readonly string[] BenchedSamplers = ["maskgit_plus", "fast-dllm-nocache", "fast-dllm-prefix", "fast-dllm-dual", "fast-dllm-dkv", "block", "ar"];

    /// <summary>One row per sampler, and one per refresh interval for fast-dllm-dkv (its trade-off curve).</summary>
    static IEnumerable<(string Name, SamplerSettings Settings)> Rows(IEnumerable<string> names, SamplerSettings settings, IReadOnlyList<int> intervals) =>
        names.SelectMany(name => name == "fast-dllm-dkv"
            ? intervals.Select(r => (name, settings with { RefreshInterval = r }))
            : [(name, settings)]);

    /// <summary>
    /// Exact match and speed of single-line infilling on held-out code (oracle length): vanilla and Fast-dLLM (uncached, dual
    /// cache, and the dKV delayed cache at each refresh interval) with prefix and suffix; then line completion from the prefix alone (the block sampler decodes left to right and cannot see a suffix)
    /// for vanilla on <paramref name="pipeline"/> and the block sampler on <paramref name="blockPipeline"/>.
    /// </summary>
    static void InfillQuality(BenchReport report, DiffusionPipeline pipeline, string modelName, DiffusionPipeline blockPipeline,
                              string blockModelName, string shardDir, int count, int blockLength, IReadOnlyCollection<string> chosen,
                              IReadOnlyList<int> intervals)
    {
        using var set = TokenShardSet.Open(shardDir, verify: false);
        var held = HeldOutInfill.Tasks(set.Validation, pipeline.Tokenizer, count, seed: 1);
        var prefixOnly = held.Select(task => task with { Suffix = "" }).ToList();
        var runs = new List<(string Name, int? Interval, IReadOnlyList<InfillTask> Rows, string Context, DiffusionPipeline Model, string Label)>();
        foreach (var name in new[] { "maskgit_plus", "fast-dllm-nocache", "fast-dllm-dual" }) runs.Add((name, null, held, "prefix+suffix", pipeline, modelName));
        foreach (var r in intervals) runs.Add(("fast-dllm-dkv", r, held, "prefix+suffix", pipeline, modelName));
        runs.Add(("maskgit_plus", null, prefixOnly, "prefix", pipeline, modelName));
        runs.Add(("block", null, prefixOnly, "prefix", blockPipeline, blockModelName));
        foreach (var (name, interval, rows, context, model, label) in runs)
        {
            if (!chosen.Contains(name)) continue;
            var clock = Stopwatch.StartNew();
            var scored = HeldOutInfill.Score(model, rows, n => SamplerFactory.Create(name, new SamplerSettings { Steps = n, BlockLength = blockLength, RefreshInterval = interval }));
            int exact = scored.Count(r => r.Exact), forwards = scored.Sum(r => r.Generation.Output.Forwards);
            int tokens = scored.Sum(r => Math.Max(1, model.TokenCount(r.Task.Middle)));
            var record = new JsonObject
            {
                ["bench"] = "infill_quality", ["sampler"] = name, ["context"] = context, ["model"] = label, ["tasks"] = rows.Count,
                ["exact_match"] = rows.Count == 0 ? 0 : (double)exact / rows.Count,
                ["forwards"] = forwards, ["tokens"] = tokens, ["tokens_per_s"] = tokens / clock.Elapsed.TotalSeconds,
                ["counted"] = BenchReport.CountedGenerated,
            };
            if (interval is { } r) record["refresh_interval"] = r;
            report.Emit(record);
        }
    }
}

using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using OpenDllm.Config;
using OpenDllm.Inference;
using OpenDllm.Methods.Ldlm;
using OpenDllm.Models;
using OpenDllm.Runtime;
using OpenDllm.Sampling;
using OpenDllm.Sampling.Latent;
using OpenDllm.Schedules;
using OpenDllm.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Cli.Commands.Bench;

public static partial class BenchCommand
{
    /// <summary>Tokens per generated sequence of `bench ldlm` without a checkpoint (the seed's benchmark setting).</summary>
    public const int LdlmBenchLength = 64;

    /// <summary>Depth of the comparison model of `bench ldlm` (bench_ref's depth; its width is fitted to the parameter count).</summary>
    public const int LdlmComparisonLayers = 4;

    /// <summary>The row groups of `bench ldlm`, in order.</summary>
    static readonly string[] LdlmBenchParts = ["ldlm", "masked", "ar"];

    /// <summary>
    /// `bench ldlm`: generated tokens/s of LDLM (SPEC §6: DDIM on the latents, then one decode to tokens) at each number of
    /// steps and batch size, and of a Qwen2 model with about the same parameter count sampled with the masked-diffusion
    /// (maskgit_plus) and AR (KV cache) samplers at the same batch and length; a final <c>ldlm_note</c> line says what the
    /// comparison does and does not mean.
    /// </summary>
    static Command CreateLdlm(Option<int> threads, Option<string?> output, Option<string?> deviceOption)
    {
        var checkpoint = new Option<string?>("--checkpoint") { Description = "An LDLM checkpoint folder (default: random modules of --shape)." };
        var shape = new Option<string?>("--shape")
        {
            Description = "Random LDLM modules without a checkpoint: tiny (recipes/ldlm-tiny.yaml over the quickstart width, D 256, "
                          + "V 262) or seed-35b-a3b (the seed's layer counts over the 0.5B preset's width, D 896, V 151936). Default: tiny.",
        };
        shape.AcceptOnlyFromAmong([.. LdlmShapes.Names]);
        var reps = new Option<int>("--reps") { Description = "Timed runs per row.", DefaultValueFactory = _ => 3 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed runs before each row.", DefaultValueFactory = _ => 1 };
        var stepsList = new Option<string>("--steps-list") { Description = "Comma-separated diffusion steps (LDLM and masked rows).", DefaultValueFactory = _ => "10,4" };
        var batches = new Option<string>("--batches") { Description = "Comma-separated batch sizes.", DefaultValueFactory = _ => "1,8" };
        var only = new Option<string?>("--only") { Description = $"Comma-separated subset of: {string.Join(", ", LdlmBenchParts)} (default: all)." };
        var command = new Command("ldlm", "Tokens/s of LDLM generation vs masked-diffusion and AR sampling of a Qwen2 model with as many parameters.")
        { threads, output, deviceOption, checkpoint, shape, reps, warmup, stepsList, batches, only };
        command.SetAction(p => CliErrors.Run(() =>
        {
            int n = p.GetValue(reps), w = p.GetValue(warmup);
            if (n < 1) throw new ArgumentException($"--reps must be ≥ 1, got {n}");
            if (w < 0) throw new ArgumentException($"--warmup must be ≥ 0, got {w}");
            if (p.GetValue(checkpoint) is not null && p.GetValue(shape) is not null)
                throw new ArgumentException("--shape picks random modules; it cannot be combined with --checkpoint (the checkpoint fixes the shape)");
            var settings = new LdlmBenchSettings(
                PositiveList(p.GetValue(stepsList)!, "--steps-list"), PositiveList(p.GetValue(batches)!, "--batches"),
                Parts(p.GetValue(only)), n, w);
            var (report, device) = Start(p.GetValue(threads), p.GetValue(output), "ldlm", p.GetValue(deviceOption));
            RunLdlm(report, device, settings, p.GetValue(checkpoint), p.GetValue(shape) ?? "tiny");
            report.Finish();
            return 0;
        }));
        return command;
    }

    sealed record LdlmBenchSettings(IReadOnlyList<int> Steps, IReadOnlyList<int> Batches, IReadOnlyCollection<string> Parts, int Reps, int Warmup);

    static void RunLdlm(BenchReport report, Device device, LdlmBenchSettings settings, string? checkpoint, string shapeName)
    {
        var rows = new List<JsonObject>();
        void Emit(JsonObject row) { rows.Add(row); report.Emit(row); }

        // 1. LDLM: the checkpoint's modules, or random ones of the named shape; counted, timed, then freed before the comparison model
        long ldlmParams, length;
        int vocab;
        string ldlmModel;
        LatentPipeline? pipeline = checkpoint is null ? null : LatentPipeline.Load(checkpoint, device);
        var modules = pipeline?.Modules ?? new LdlmModules(RandomLdlmShape(shapeName), seed: 0, device);
        try
        {
            modules.eval();
            var arch = modules.Architecture;
            ldlmParams = GenerationParameters(modules);
            length = arch.Length;
            vocab = arch.VocabSize;
            ldlmModel = checkpoint ?? $"random {shapeName}";
            if (settings.Parts.Contains("ldlm"))
            {
                var schedule = pipeline?.Schedule ?? new TanDSchedule();
                foreach (int steps in settings.Steps)
                foreach (int batch in settings.Batches)
                    Emit(LdlmRow(modules, schedule, steps, batch, settings, device, ldlmModel, ldlmParams));
            }
        }
        finally
        {
            if (pipeline is not null) pipeline.Dispose();
            else modules.Dispose();
        }

        // 2. the comparison model: a random Qwen2 of about the same parameter count and the same vocabulary
        if (settings.Parts.Contains("masked") || settings.Parts.Contains("ar"))
        {
            var config = EqualParameterConfig(ldlmParams, vocab);
            using var model = new Qwen2Model(config, device).InitializeWeights(seed: 0);
            model.eval();
            var denoiser = new ModelDenoiser(model, config.MaskTokenId!.Value, shiftedLogits: true);
            var comparison = new JsonObject
            {
                ["model"] = $"random qwen2 ({config.NumHiddenLayers} layers, hidden {config.HiddenSize})", ["config"] = JsonNode.Parse(config.ToJson()),
                ["params"] = model.ParameterCount, ["ldlm_params"] = ldlmParams, ["params_ratio"] = (double)model.ParameterCount / ldlmParams,
            };
            using var noGrad = no_grad();
            if (settings.Parts.Contains("masked"))
                foreach (int steps in settings.Steps)
                foreach (int batch in settings.Batches)
                    Emit(TokenSamplerRow("masked", SamplerFactory.Create("maskgit_plus", new SamplerSettings { Steps = steps }), steps,
                                         denoiser, batch, length, settings, device, comparison));
            if (settings.Parts.Contains("ar"))
                foreach (int batch in settings.Batches)
                    Emit(TokenSamplerRow("ar", SamplerFactory.Create("ar"), null, denoiser, batch, length, settings, device, comparison));
        }
        report.Emit(LdlmNote(rows, checkpoint is not null, device));
    }

    /// <summary>The random modules of <c>--shape</c>: tiny over the quickstart encoder's width and the byte vocabulary, the
    /// seed's table over Qwen2.5-Coder-0.5B's width and vocabulary; L = <see cref="LdlmBenchLength"/>.</summary>
    static LdlmArchitecture RandomLdlmShape(string name)
    {
        var (hidden, vocab) = name == "tiny"
            ? ((long)BenchConfig.HiddenSize, new ByteTokenizer().VocabSize)            // the quickstart preset: hidden 256
            : ((long)ModelConfig.Qwen2_5_Coder_0_5B.HiddenSize, ModelConfig.Qwen2_5_Coder_0_5B.VocabSize);
        return LdlmShapes.Named(name, hidden, vocab, LdlmBenchLength);
    }

    /// <summary>
    /// The parameters generation runs: the DiT denoiser, the Perceiver decoder and the token decoder. The Perceiver encoder
    /// and the frozen LM only encode text (training, reconstruction) and are not counted.
    /// </summary>
    public static long GenerationParameters(LdlmModules modules) =>
        Count(modules.Denoiser) + Count(modules.Decoder) + Count(modules.TokenDecoder);

    static long Count(nn.Module module) => module.parameters().Sum(p => p.numel());

    /// <summary>
    /// The comparison model of `bench ldlm`: bench_ref's proportions (4 heads, 2 KV heads, intermediate 2.75·H, rope_theta
    /// 1e6, tied embeddings: the quickstart model at H = 256) at <see cref="LdlmComparisonLayers"/> layers, over
    /// <paramref name="vocab"/> (mask id V − 1, shifted logits), with the hidden size H (a multiple of 8) whose parameter
    /// count (<see cref="MemoryEstimate.ParameterCount"/>, the tied matrix counted once) is closest to <paramref name="target"/>.
    /// </summary>
    public static ModelConfig EqualParameterConfig(long target, int vocab)
    {
        ModelConfig At(int hidden) => BenchConfig with
        {
            HiddenSize = hidden, IntermediateSize = hidden / 4 * 11, NumHiddenLayers = LdlmComparisonLayers,
            VocabSize = vocab, MaskTokenId = vocab - 1, MaxPositionEmbeddings = 4096,
        };
        int h = 8;
        while (MemoryEstimate.ParameterCount(At(h)) < target && h < 65_536) h += 8;
        if (h > 8 && target - MemoryEstimate.ParameterCount(At(h - 8)) < MemoryEstimate.ParameterCount(At(h)) - target) h -= 8;
        return At(h).Validate("bench ldlm");
    }

    /// <summary>One LDLM row: <see cref="LatentSampler"/> (DDIM, seed 0) on <paramref name="batch"/> × L, the tokens copied to the host.</summary>
    static JsonObject LdlmRow(LdlmModules modules, TanDSchedule schedule, int steps, int batch, LdlmBenchSettings settings, Device device,
                              string model, long parameters)
    {
        var sampler = new LatentSampler(new LatentSamplerSettings { Steps = steps, Kind = LatentSamplerKind.Ddim, Seed = 0 });
        int forwards = 0;
        var times = BenchReport.Time(() =>
        {
            using var scope = NewDisposeScope();
            var generation = sampler.Generate(modules.Denoiser, modules, batch, device, schedule);
            generation.Tokens.cpu();                                                    // the tokens are ready (a CUDA sync)
            forwards = generation.Forwards;
        }, settings.Warmup, settings.Reps);
        var arch = modules.Architecture;
        var row = new JsonObject
        {
            ["bench"] = "ldlm", ["method"] = "ldlm", ["sampler"] = sampler.Name, ["steps"] = steps, ["batch"] = batch, ["batched"] = true,
            ["seq_len"] = arch.Length, ["model"] = model, ["params"] = parameters,
            ["params_parts"] = new JsonObject { ["denoiser"] = Count(modules.Denoiser), ["perceiver_decoder"] = Count(modules.Decoder), ["token_decoder"] = Count(modules.TokenDecoder) },
            ["params_not_counted"] = new JsonObject { ["perceiver_encoder"] = Count(modules.Encoder), ["frozen_encoder"] = "not loaded" },
            ["latents"] = arch.Latents, ["latent_dim"] = arch.LatentDim, ["encoder_hidden_size"] = arch.EncoderHiddenSize, ["vocab"] = arch.VocabSize,
            ["forwards"] = forwards, ["decoder_calls"] = 1,
        };
        return Timed(row, times, batch * arch.Length, device);
    }

    /// <summary>One row of a token-space sampler on the comparison model: a 1-token prompt and L masks per row, batch rows at once.</summary>
    static JsonObject TokenSamplerRow(string method, ISampler sampler, int? steps, IDenoiser denoiser, int batch, long length,
                                      LdlmBenchSettings settings, Device device, JsonObject comparison)
    {
        var prompt = randint(0, denoiser.MaskId, [batch, 1], generator: new Generator(2), dtype: ScalarType.Int64);
        var canvas = new Canvas(cat([prompt, full(batch, length, denoiser.MaskId, dtype: ScalarType.Int64)], 1).to(device));
        int forwards = 0;
        var times = BenchReport.Time(() =>
        {
            using var scope = NewDisposeScope();
            var output = sampler.Sample(denoiser, canvas);
            output.Sequences.cpu();
            forwards = output.Forwards;
        }, settings.Warmup, settings.Reps);
        var row = new JsonObject
        {
            ["bench"] = "ldlm", ["method"] = method, ["sampler"] = sampler.Name, ["steps"] = steps, ["batch"] = batch, ["batched"] = true,
            ["seq_len"] = length, ["prompt"] = 1,
        };
        foreach (var (k, v) in comparison) row[k] = v?.DeepClone();
        row["forwards"] = forwards;
        row["tokens_per_forward"] = (double)length / forwards;
        if (method == "ar") row["kv_cache"] = true;
        return Timed(row, times, batch * length, device);
    }

    /// <summary>Adds the timing summary, tokens_per_s = generated tokens / median time, and the device.</summary>
    static JsonObject Timed(JsonObject row, List<double> times, long tokens, Device device)
    {
        foreach (var (k, v) in BenchReport.Summary(times)) row[k] = v?.DeepClone();
        row["tokens_per_s"] = tokens / BenchReport.Median(times);
        row["counted"] = BenchReport.CountedGenerated;
        row["device"] = device.ToString();
        return row;
    }

    /// <summary>What the rows do and do not mean, with the measured ratios LDLM / masked (same steps and batch) and LDLM / AR.</summary>
    static JsonObject LdlmNote(List<JsonObject> rows, bool trainedLdlm, Device device)
    {
        double? Rate(string method, int? steps, int batch) => rows.FirstOrDefault(r => (string)r["method"]! == method
            && (int?)r["steps"] == steps && (int)r["batch"]! == batch) is { } r ? (double)r["tokens_per_s"]! : null;
        var ratios = new JsonArray();
        foreach (var r in rows.Where(r => (string)r["method"]! == "ldlm"))
        {
            int? steps = (int?)r["steps"];
            int batch = (int)r["batch"]!;
            double ldlm = (double)r["tokens_per_s"]!;
            ratios.Add(new JsonObject
            {
                ["steps"] = steps, ["batch"] = batch,
                ["ldlm_over_masked"] = Rate("masked", steps, batch) is double m ? ldlm / m : null,
                ["ldlm_over_ar"] = Rate("ar", null, batch) is double a ? ldlm / a : null,
            });
        }
        return new JsonObject
        {
            ["bench"] = "ldlm_note", ["device"] = device.ToString(), ["ratios"] = ratios,
            ["measures"] = "generated tokens per second on this device at about one parameter count: LDLM (DDIM on K latents, then one "
                + "Perceiver and token decode of L tokens) against a Qwen2 model of about as many parameters and the same vocabulary, "
                + "sampled with maskgit_plus (all L positions, every step) and AR (one token per forward, KV cache); same batch, same L, "
                + "each batch run as one tensor",
            ["params_counted"] = "LDLM: DiT denoiser, Perceiver decoder and token decoder, what generation runs; not the Perceiver encoder "
                + "nor the frozen LM (they only encode text). Comparison model: all its parameters, the tied embedding counted once",
            ["does_not_mean"] = new JsonArray(
                (trainedLdlm ? "quality: only the LDLM is trained, the comparison model is random; " : "quality: all weights are random; ")
                    + "no sample quality is compared, and the methods may need different sizes or step counts for equal quality",
                "equal compute: parameters are matched, not FLOPs. Per step the DiT runs on K latents whatever L is, but LDLM's "
                    + "decoders run on all L positions (once); the masked sampler runs the whole model on 1 plus L positions every step; "
                    + "AR runs L single-token forwards against a growing KV cache",
                "steps are not interchangeable: 10 LDLM steps and 10 masked-diffusion steps are different amounts of work and give text of different quality",
                "the seed's 3,238 tok/s at 10 steps is a 35B-A3B MoE (about 3B active parameters) on an RTX 5090; a CPU number at a "
                    + "few hundred million dense parameters is a different regime: compare ratios at most, not absolute numbers",
                "other settings: at batch 1 a CPU is bound by per-call overhead (small models) or by reading every weight for a "
                    + "few tokens (AR: one token per row per forward); ratios can change on a GPU, at other L, K or widths, and on a "
                    + "shared (loaded) machine"),
        };
    }

    /// <summary>Comma-separated integers ≥ 1 (no duplicates), or an error naming <paramref name="option"/>.</summary>
    static IReadOnlyList<int> PositiveList(string text, string option)
    {
        var items = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var values = new List<int>();
        foreach (var item in items)
        {
            if (!int.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out int v) || v < 1)
                throw new ArgumentException($"{option} '{text}': '{item}' is not an integer ≥ 1");
            if (values.Contains(v)) throw new ArgumentException($"{option} '{text}': {v} is listed twice");
            values.Add(v);
        }
        if (values.Count == 0) throw new ArgumentException($"{option} '{text}': expected comma-separated integers ≥ 1");
        return values;
    }

    static IReadOnlyCollection<string> Parts(string? only)
    {
        if (only is null) return LdlmBenchParts;
        var chosen = only.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (chosen.Length == 0 || chosen.FirstOrDefault(c => !LdlmBenchParts.Contains(c)) is not null)
            throw new ArgumentException($"--only '{only}': expected a comma-separated subset of {string.Join(", ", LdlmBenchParts)}");
        return chosen;
    }
}

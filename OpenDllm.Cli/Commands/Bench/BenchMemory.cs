using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Nodes;
using OpenDllm.Config;
using OpenDllm.Models;
using OpenDllm.Objectives;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Cli.Commands.Bench;

public static partial class BenchCommand
{
    /// <summary>Qwen2.5's vocabulary (151,936 rows, SPEC §2.1) and the id Open-dLLM's added "&lt;M&gt;" lands on.</summary>
    public const int QwenVocab = 151_936;
    public const long QwenMaskId = 151_665;

    /// <summary>
    /// The memory bench model: the tiny trunk (hidden 32, 2 layers, 4/2 heads) under the Qwen vocabulary with tied
    /// embeddings, so the LM head (151,936 × 32 ≈ 4.9M parameters) dominates, as it does the activation memory of
    /// Open-dCoder's training at real vocabulary size. Shifted, as Open-dCoder.
    /// </summary>
    public static ModelConfig MemoryConfig(int hidden, int vocab, int seq) => ModelConfig.Tiny with
    {
        HiddenSize = hidden, VocabSize = vocab, MaxPositionEmbeddings = Math.Max(seq, 512),
        MaskTokenId = (int)Math.Min(QwenMaskId, vocab - 1), ShiftedLogits = true,
    };

    /// <summary>
    /// `bench memory`: a few MDLM training steps (opendllm_v1, shifted, AdamW) of <see cref="MemoryConfig"/> at batch × seq,
    /// reporting tokens/s, the process's peak resident memory and the configuration; <c>--dense-head</c> runs the reference
    /// loss on full [B, L, V] logits in the same build (before/after).
    /// </summary>
    static Command CreateMemory(Option<int> threads, Option<string?> output, Option<string?> deviceOption, Option<bool> dense)
    {
        var steps = new Option<int>("--steps") { Description = "Training steps (all timed; the peak includes the first).", DefaultValueFactory = _ => 3 };
        var batch = new Option<int>("--batch") { Description = "Sequences per step.", DefaultValueFactory = _ => 4 };
        var seq = new Option<int>("--seq") { Description = "Tokens per sequence.", DefaultValueFactory = _ => 1024 };
        var hidden = new Option<int>("--hidden") { Description = "Hidden size (a multiple of 4 heads × 2).", DefaultValueFactory = _ => 32 };
        var vocab = new Option<int>("--vocab") { Description = "Vocabulary size (Qwen2.5: 151936).", DefaultValueFactory = _ => QwenVocab };
        var chunk = new Option<long>("--chunk-rows") { Description = "Rows of logits per chunk (0: 256 MiB of float32).", DefaultValueFactory = _ => 0 };
        var command = new Command("memory", "Peak memory and tokens/s of MDLM training steps with a real (Qwen) vocabulary; --dense-head for the reference loss.")
        { threads, output, deviceOption, dense, steps, batch, seq, hidden, vocab, chunk };
        command.SetAction(p => CliErrors.Run(() =>
        {
            int b = p.GetValue(batch), l = p.GetValue(seq), n = p.GetValue(steps), h = p.GetValue(hidden), v = p.GetValue(vocab);
            long rows = p.GetValue(chunk);
            bool denseHead = p.GetValue(dense);
            if (b < 1 || l < 2 || n < 1 || v < 2) throw new ArgumentException("--batch, --steps ≥ 1, --seq ≥ 2 and --vocab ≥ 2 are required");
            if (h < 8 || h % 8 != 0) throw new ArgumentException($"--hidden must be a positive multiple of 8 (4 heads of an even size), got {h}");
            if (rows < 0) throw new ArgumentException($"--chunk-rows must be ≥ 0, got {rows}");
            var (report, device) = Start(p.GetValue(threads), p.GetValue(output), "memory", p.GetValue(deviceOption));
            var config = MemoryConfig(h, v, l);
            var model = new Qwen2Model(config, device).InitializeWeights(seed: 0);
            model.train();
            var optimizer = optim.AdamW(model.parameters(), 3e-4, 0.9, 0.95, 1e-8, 0.01);
            var data = new Generator(1);
            var loss = MdlmLossOptions.OpenDllmRelease with { MaskTokenId = config.MaskTokenId };
            var losses = new List<double>();
            var times = new List<double>();
            for (int i = 0; i < n; i++)
            {
                using var step = NewDisposeScope();
                var x0 = randint(0, config.MaskTokenId!.Value, [b, l], generator: data, dtype: ScalarType.Int64).to(device);
                var clock = Stopwatch.StartNew();
                losses.Add(MdlmTrainStep(model, optimizer, x0, loss, data, device, denseHead, rows));
                times.Add(clock.Elapsed.TotalSeconds);
            }
            var record = new JsonObject
            {
                ["bench"] = "train_memory", ["head"] = HeadName(denseHead), ["config"] = JsonNode.Parse(config.ToJson()),
                ["batch"] = b, ["seq"] = l, ["steps"] = n, ["params"] = model.ParameterCount, ["loss_variant"] = "opendllm_v1",
                ["chunk_rows"] = denseHead ? null : ChunkedCrossEntropy.ChunkRows(v, rows),
                ["optimizer"] = "AdamW(lr=3e-4,betas=(0.9,0.95),wd=0.01)",
            };
            foreach (var (k, val) in BenchReport.Summary(times)) record[k] = val?.DeepClone();
            record["total_s"] = times.Sum();
            record["tokens_per_s"] = (double)b * l * n / times.Sum();
            record["counted"] = BenchReport.CountedProcessed;
            record["first_loss"] = losses[0];
            record["last_loss"] = losses[^1];
            record["peak_rss_mb"] = Process.GetCurrentProcess().PeakWorkingSet64 / (1024.0 * 1024.0);
            report.Emit(record);
            report.Finish();
            return 0;
        }));
        return command;
    }
}

using System.CommandLine;
using System.Text.Json.Nodes;
using OpenDllm.Attention;
using OpenDllm.Config;
using OpenDllm.Masking;
using OpenDllm.Models;
using OpenDllm.Objectives;
using OpenDllm.Runtime;
using OpenDllm.Schedules;
using OpenDllm.TimeSampling;
using OpenDllm.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Cli.Commands.Bench;

/// <summary>
/// `opendllm bench train|memory|sample|samplers|ldlm|collectives|scalars`: throughput on exactly the configuration of ../shared/reference/bench_ref.py
/// (hidden 256, intermediate 704, 4 layers, 4/2 heads, vocab 4096, rope_theta 1e6, tied; batch 8 × 256), printing JSON
/// lines with the reference's keys. Speed targets live here, never in unit tests.
/// </summary>
public static partial class BenchCommand
{
    public const int Batch = 8, Seq = 256, Vocab = 4096;
    public const long MaskId = Vocab - 1;

    public static ModelConfig BenchConfig => new()
    {
        HiddenSize = 256, IntermediateSize = 704, NumHiddenLayers = 4, NumAttentionHeads = 4, NumKeyValueHeads = 2,
        VocabSize = Vocab, RmsNormEps = 1e-6, RopeTheta = 1e6, TieWordEmbeddings = true, MaskTokenId = (int)MaskId, ShiftedLogits = true,
    };

    public static Command Create()
    {
        var threads = new Option<int>("--threads") { Description = "Intra-op threads.", DefaultValueFactory = _ => 2 };
        var steps = new Option<int>("--steps") { Description = "Timed repetitions.", DefaultValueFactory = _ => 10 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed warm-up repetitions.", DefaultValueFactory = _ => 3 };
        var output = new Option<string?>("--out") { Description = "Also write the JSON lines to this file." };
        var device = new Option<string?>("--device") { Description = "cpu, cuda or cuda:N (default: CUDA when present, else the CPU)." };
        var dense = new Option<bool>("--dense-head") { Description = "Use the reference loss on full [B, L, V] logits instead of the chunked head (before/after comparisons)." };
        var precision = new Option<string>("--precision")
        {
            Description = "fp32, bf16_mixed (float32 master weights, bf16 compute) or bf16 (pure). One per process, so max_rss_mb is its own.",
            DefaultValueFactory = _ => "fp32",
        };
        precision.AcceptOnlyFromAmong([.. TrainingPrecisions.Names]);
        var loraR = new Option<int>("--lora-r") { Description = "Train LoRA adapters of this rank on every projection (base frozen) instead of every weight; 0 = full fine-tuning.", DefaultValueFactory = _ => 0 };
        var loraAlpha = new Option<double?>("--lora-alpha") { Description = "LoRA α (default 2·r, dLLM's ratio)." };
        var loraDropout = new Option<double>("--lora-dropout") { Description = "LoRA dropout on the adapter input.", DefaultValueFactory = _ => 0.05 };
        var alignWeight = new Option<double>("--align-weight")
        {
            Description = "AR → diffusion adaptation (SPEC §3): add λ·L_align against a frozen causal teacher (one extra forward per step); 0 = plain MDLM.",
            DefaultValueFactory = _ => 0,
        };
        var teacherDtype = new Option<string>("--teacher-dtype") { Description = "With --align-weight: the teacher's dtype, fp32 or bf16.", DefaultValueFactory = _ => "fp32" };
        teacherDtype.AcceptOnlyFromAmong("fp32", "bf16");
        var bench = new Command("bench", "Benchmarks that print JSON lines (compare with ../shared/reference/bench_ref.py).");
        var train = new Command("train", "Training step (MDLM opendllm_v1, shifted, AdamW) and bidirectional forward throughput.")
        { threads, steps, warmup, output, device, dense, precision, loraR, loraAlpha, loraDropout, alignWeight, teacherDtype };
        train.SetAction(p => CliErrors.Run(() =>
        {
            int r = p.GetValue(loraR);
            if (r < 0) throw new ArgumentException($"--lora-r {r}: must be 0 (full fine-tuning) or a rank ≥ 1");
            var lora = r == 0 ? null : new OpenDllm.Lora.LoraOptions(r, p.GetValue(loraAlpha) ?? 2.0 * r, p.GetValue(loraDropout)).Validate();
            var align = new OpenDllm.Methods.A2d.A2dOptions
            {
                AlignWeight = p.GetValue(alignWeight),
                TeacherDtype = p.GetValue(teacherDtype) == "bf16" ? OpenDllm.Methods.A2d.TeacherDtype.Bf16 : OpenDllm.Methods.A2d.TeacherDtype.Fp32,
            }.Validate(source: "bench train", key: "--a2d");
            if (align.AlignWeight > 0 && p.GetValue(dense)) throw new ArgumentException("--align-weight needs the chunked head (drop --dense-head)");
            return RunTrain(p.GetValue(threads), p.GetValue(steps), p.GetValue(warmup), p.GetValue(output),
                            p.GetValue(device), p.GetValue(dense), TrainingPrecisions.Parse(p.GetValue(precision)!, "--precision"), lora, align);
        }));
        bench.Add(train);
        bench.Add(CreateMemory(threads, output, device, dense));
        bench.Add(CreateSample(threads, output, device));
        bench.Add(CreateSamplers(threads, output, device));
        bench.Add(CreateLdlm(threads, output, device));
        bench.Add(CreateCollectives(threads, output, device));
        bench.Add(CreateScalars(threads, output));
        return bench;
    }

    static (BenchReport Report, Device Device) Start(int threads, string? output, string bench, string? deviceSpec)
    {
        TorchRuntime.SetThreads(threads);
        var device = TorchRuntime.ParseDevice(deviceSpec);
        var report = new BenchReport(output);
        report.Emit(new JsonObject
        {
            ["device"] = device.ToString(),
            ["bench"] = "env", ["torchsharp"] = typeof(torch).Assembly.GetName().Version?.ToString(), ["libtorch"] = TorchRuntime.LibTorch.VersionText,
            ["threads"] = torch.get_num_threads(), ["cpu_count"] = Environment.ProcessorCount, ["suite"] = bench,
            ["load_average"] = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : null,
        });
        return (report, device);
    }

    /// <summary>
    /// One MDLM training step as the reference times it: t ~ U clamped to [1/500, 1 − 1/500] per sequence, masking, the
    /// bidirectional forward, the loss (chunked head, or the dense reference on [B, L, V] logits), backward, AdamW.
    /// Returns the loss (read on the host, as bench_ref.py does). With a <paramref name="teacher"/> (bench train
    /// <c>--align-weight</c>) the step adds λ·L_align as <see cref="OpenDllm.Methods.A2d.A2dMethod"/> does (one sequence per row, no documents).
    /// </summary>
    static double MdlmTrainStep(Qwen2Model model, optim.Optimizer optimizer, Tensor x0, MdlmLossOptions loss, Generator data,
                                Device device, bool denseHead, long chunkRows = 0, OpenDllm.Methods.A2d.FrozenTeacher? teacher = null, double alignWeight = 0,
                                Action? afterBackward = null)
    {
        using var scope = NewDisposeScope();
        long b = x0.shape[0], l = x0.shape[1];
        var t = TimeAssignment.PerSequence(ClampedUniformTimestepSampler.OpenDllm, b, l, data).to(device);
        var noisy = ForwardMasking.Apply(x0, t, LinearSchedule.Instance, loss.MaskTokenId!.Value, null, data);
        var input = new ModelInput(noisy.Tokens, AttentionPolicy.Bidirectional, ReturnHiddenStates: teacher is not null);
        var head = denseHead ? null : model.ForwardToHead(input) with { ChunkRows = chunkRows };
        var result = head is null
            ? MdlmLoss.Compute(model.forward(input).Logits, x0, noisy.Masked, t, loss)
            : MdlmLoss.Compute(head, x0, noisy.Masked, t, loss);
        var total = result.Loss;
        if (teacher is not null)
        {
            // A2dMethod's term (SPEC §3): the teacher causal on x0, cosine at the active predictions of every hidden state
            var reference = teacher.HiddenStates(new ModelInput(x0, AttentionPolicy.Causal));
            var active = LossTargets.Active(noisy.Masked, loss.ShiftLogits);
            var (align, present) = RepresentationAlignmentLoss.Masked(
                head!.HiddenStates!.Select(h => LossTargets.Predictions(h, loss.ShiftLogits)).ToList(),
                reference.Select(h => LossTargets.Predictions(h, loss.ShiftLogits)).ToList(), active);
            total = total + alignWeight * present * align;
        }
        optimizer.zero_grad();
        total.backward();
        afterBackward?.Invoke();                 // data-parallel: the gradient all-reduce
        optimizer.step();
        return total.item<float>();
    }

    static string HeadName(bool dense) => dense ? "dense" : "chunked";

    /// <summary>The bench model with bench_ref's deterministic init (seed 0).</summary>
    public static Qwen2Model BenchModel(Device? device = null) => new Qwen2Model(BenchConfig, device).InitializeWeights(seed: 0);

    static int RunTrain(int threads, int steps, int warmup, string? output, string? deviceSpec, bool denseHead, TrainingPrecision precision,
                        OpenDllm.Lora.LoraOptions? lora = null, OpenDllm.Methods.A2d.A2dOptions? align = null)
    {
        // under mpirun: data-parallel over the ranks, each training its share of the batch rows (rank 0 reports)
        TorchRuntime.EnsureLoaded();
        var requested = OpenDllm.Distributed.Collectives.LocalDevice(TorchRuntime.ParseDevice(deviceSpec));
        var group = OpenDllm.Distributed.Collectives.FromEnvironment(requested);
        var parallel = new OpenDllm.Distributed.DataParallel(group, group is OpenDllm.Distributed.NcclGroup ? requested : CPU);
        if (Batch % parallel.WorldSize != 0) throw new ArgumentException($"the bench batch of {Batch} rows does not split over {parallel.WorldSize} ranks");
        int rows = Batch / parallel.WorldSize;
        var stdout = Console.Out;
        if (!parallel.IsRoot) Console.SetOut(TextWriter.Null);
        try
        {
            var (report, _) = Start(threads, parallel.IsRoot ? output : null, "train", deviceSpec);   // one file, rank 0's
            return RunTrain(report, requested, parallel, rows, steps, warmup, denseHead, precision, lora, align);
        }
        finally { Console.SetOut(stdout); if (parallel.IsDistributed) group.Dispose(); }
    }

    static int RunTrain(BenchReport report, Device device, OpenDllm.Distributed.DataParallel parallel, int rows, int steps, int warmup, bool denseHead,
                        TrainingPrecision precision, OpenDllm.Lora.LoraOptions? lora, OpenDllm.Methods.A2d.A2dOptions? align)
    {
        var model = TrainingPrecisions.Apply(BenchModel(device), precision);
        using var teacher = align is { AlignWeight: > 0 } a ? OpenDllm.Methods.A2d.FrozenTeacher.CopyOf(model, a.TeacherDtype) : null;
        var adapters = lora is null ? null : OpenDllm.Lora.LoraAdapters.Attach(model, lora);   // base frozen, adapters trainable
        model.train();
        var trainable = model.parameters().Concat(adapters?.parameters() ?? []).Where(p => p.requires_grad).ToList();
        var optimizer = optim.AdamW(trainable, 3e-4, 0.9, 0.95, 1e-8, 0.01);
        var data = new Generator(1);
        var batches = Enumerable.Range(0, warmup + steps)
            .Select(_ => randint(0, MaskId, [Batch, Seq], generator: data, dtype: ScalarType.Int64)
                .narrow(0, parallel.Rank * rows, rows).to(device).DetachFromDisposeScope()).ToList();   // this rank's rows
        var losses = new List<double>();
        var communication = new List<double>();
        int next = 0;
        var loss = MdlmLossOptions.OpenDllmRelease with { MaskTokenId = MaskId };
        void AllReduce()
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            parallel.SumGradients(trainable);
            using (no_grad()) foreach (var p in trainable) p.grad?.div_(parallel.WorldSize);   // the mean over the ranks' rows
            communication.Add(clock.Elapsed.TotalSeconds);
        }
        void TrainStep() => losses.Add(MdlmTrainStep(model, optimizer, batches[next++], loss, data, device, denseHead, teacher: teacher,
            alignWeight: align?.AlignWeight ?? 0, afterBackward: parallel.IsDistributed ? AllReduce : null));
        var times = BenchReport.Time(TrainStep, warmup, steps);
        var record = new JsonObject
        {
            ["bench"] = "train", ["config"] = JsonNode.Parse(BenchConfig.ToJson()), ["batch"] = Batch, ["seq"] = Seq,
            ["precision"] = precision.Name(), ["params"] = model.ParameterCount, ["loss_variant"] = "opendllm_v1", ["head"] = HeadName(denseHead),
            ["optimizer"] = "AdamW(lr=3e-4,betas=(0.9,0.95),wd=0.01)",
            ["lora_r"] = lora?.Rank, ["lora_alpha"] = lora?.Alpha, ["lora_dropout"] = lora?.Dropout,
            ["trainable_params"] = trainable.Sum(p => p.numel()),
            ["align_weight"] = align?.AlignWeight ?? 0, ["teacher_dtype"] = teacher is null ? null : (align!.TeacherDtype == OpenDllm.Methods.A2d.TeacherDtype.Bf16 ? "bf16" : "fp32"),
            ["teacher_params"] = teacher?.Parameters.Sum(p => p.numel()),
        };
        foreach (var (k, v) in BenchReport.Summary(times)) record[k] = v?.DeepClone();
        record["tokens_per_s"] = Batch * Seq / BenchReport.Median(times);
        record["counted"] = BenchReport.CountedProcessed;
        record["ranks"] = parallel.WorldSize;
        record["backend"] = parallel.Group.Backend;
        if (parallel.IsDistributed)
        {
            // the all-reduce's wall time per timed step, waiting for the slower rank included
            var comm = communication.Skip(warmup).ToList();
            record["rows_per_rank"] = rows;
            record["comm_s_median"] = BenchReport.Median(comm);
            record["comm_share"] = BenchReport.Median(comm) / BenchReport.Median(times);
        }
        record["first_loss"] = losses[0];
        record["last_loss"] = losses[^1];
        report.Emit(record);

        model.eval();
        using (no_grad())
        {
            var x0 = batches[0];
            var forward = BenchReport.Time(() => { using var s = NewDisposeScope(); model.Logits(x0, AttentionPolicy.Bidirectional); }, 2, steps);
            var f = new JsonObject { ["bench"] = "forward", ["precision"] = precision.Name(), ["batch"] = Batch, ["seq"] = Seq, ["attention"] = "bidirectional" };
            foreach (var (k, v) in BenchReport.Summary(forward)) f[k] = v?.DeepClone();
            f["tokens_per_s"] = Batch * Seq / BenchReport.Median(forward);
            f["counted"] = BenchReport.CountedProcessed;
            report.Emit(f);
        }
        report.Finish();
        return 0;
    }
}

using System.Text.Json.Nodes;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.Cli;
using OpenDllm.Cli.Commands.Bench;
using OpenDllm.Methods.Ldlm;
using OpenDllm.Runtime;
using OpenDllm.Tokenization;

namespace OpenDllm.Tests.Cli;

/// <summary>`opendllm bench ldlm`: the rows it prints, the parameter matching of its comparison model, its one-line errors.
/// In the Console collection: the bench prints its JSON lines to stdout, which other tests of that collection capture.</summary>
[Collection("Console")]
public sealed class BenchLdlmCommandTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-bench-ldlm-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>Runs the bench in this process with the test assembly's thread count (so libtorch's threads stay as they are).</summary>
    List<JsonObject> Bench(params string[] args)
    {
        var output = Path.Combine(_dir, "bench.jsonl");
        Assert.Equal(0, CliApp.Run(["bench", "ldlm", "--threads", TorchTestDefaults.Threads.ToString(), "--out", output, .. args]));
        return File.ReadAllLines(output).Select(line => Assert.IsType<JsonObject>(JsonNode.Parse(line))).ToList();
    }

    [Fact]
    public void TinyShapePrintsOneTimedRowPerMethodStepAndBatchThenTheNote()
    {
        var lines = Bench("--shape", "tiny", "--reps", "1", "--warmup", "0", "--steps-list", "4", "--batches", "1,2");

        Assert.Equal(["env", "ldlm", "ldlm", "ldlm", "ldlm", "ldlm", "ldlm", "ldlm_note", "memory"], lines.Select(l => (string)l["bench"]!));
        var rows = lines.Where(l => (string)l["bench"]! == "ldlm").ToList();
        Assert.Equal(["ldlm", "ldlm", "masked", "masked", "ar", "ar"], rows.Select(r => (string)r["method"]!));
        Assert.Equal([1, 2, 1, 2, 1, 2], rows.Select(r => (int)r["batch"]!));
        foreach (var row in rows)
        {
            double rate = (double)row["tokens_per_s"]!;
            Assert.True(rate > 0 && double.IsFinite(rate), $"{row["method"]} batch {row["batch"]}: tokens_per_s = {rate}");
            Assert.Equal(BenchCommand.LdlmBenchLength, (int)row["seq_len"]!);
            Assert.Equal(1, (int)row["reps"]!);
            Assert.Equal("cpu", (string)row["device"]!);
        }

        // LDLM: 4 denoiser forwards; the parameters generation runs, not the Perceiver encoder
        using var modules = new LdlmModules(LdlmShapes.Tiny(256, 262, BenchCommand.LdlmBenchLength), seed: 0);
        long ldlmParams = BenchCommand.GenerationParameters(modules);
        foreach (var row in rows.Take(2))
        {
            Assert.Equal("ldlm-ddim", (string)row["sampler"]!);
            Assert.Equal(4, (int)row["forwards"]!);
            Assert.Equal(ldlmParams, (long)row["params"]!);
            var parts = row["params_parts"]!.AsObject();
            Assert.Equal(ldlmParams, parts.Sum(p => (long)p.Value!));
            Assert.Equal(modules.Encoder.parameters().Sum(p => p.numel()), (long)row["params_not_counted"]!["perceiver_encoder"]!);
        }

        // comparison: one model within 10 % of the LDLM's parameters, maskgit_plus at ≤ 4 forwards, AR at 64 with its KV cache
        foreach (var row in rows.Skip(2))
        {
            Assert.Equal(262, (int)row["config"]!["vocab_size"]!);
            Assert.InRange((double)row["params"]! / ldlmParams, 0.9, 1.1);
        }
        Assert.All(rows.Skip(2).Take(2), r => Assert.InRange((int)r["forwards"]!, 1, 4));
        Assert.All(rows.Skip(4), r => Assert.Equal(64, (int)r["forwards"]!));
        Assert.All(rows.Skip(4), r => Assert.True((bool)r["kv_cache"]!));

        var note = lines[^2];
        var ratios = note["ratios"]!.AsArray();
        Assert.Equal(2, ratios.Count);
        Assert.All(ratios, r => Assert.True((double)r!["ldlm_over_masked"]! > 0 && (double)r["ldlm_over_ar"]! > 0));
        Assert.NotEmpty(note["does_not_mean"]!.AsArray());
    }

    [Fact]
    public void OnlyRunsTheChosenRows()
    {
        var lines = Bench("--shape", "tiny", "--reps", "1", "--warmup", "0", "--steps-list", "4,2", "--batches", "1", "--only", "ldlm");
        var rows = lines.Where(l => (string)l["bench"]! == "ldlm").ToList();
        Assert.Equal([4, 2], rows.Select(r => (int)r["steps"]!));
        Assert.All(rows, r => Assert.Equal("ldlm", (string)r["method"]!));
        Assert.All(lines.Single(l => (string)l["bench"]! == "ldlm_note")["ratios"]!.AsArray(), r => Assert.Null(r!["ldlm_over_masked"]));
    }

    /// <summary>With a checkpoint the rows use its modules, length and vocabulary (here L = 32, not the default 64).</summary>
    [Fact]
    public void CheckpointRowsUseItsShape()
    {
        var checkpoint = Path.Combine(_dir, "checkpoint");
        using var modules = new LdlmModules(LdlmShapes.Tiny(64, 262, 32), seed: 3);
        modules.Save(checkpoint);
        new LdlmCheckpointInfo { EncoderModelType = "qwen2", EncoderLayer = -1, ScheduleD = 2 }.Save(checkpoint);
        new ByteTokenizer().Save(checkpoint);

        var lines = Bench("--checkpoint", checkpoint, "--reps", "1", "--warmup", "0", "--steps-list", "2", "--batches", "1", "--only", "ldlm,ar");

        var rows = lines.Where(l => (string)l["bench"]! == "ldlm").ToList();
        Assert.Equal(["ldlm", "ar"], rows.Select(r => (string)r["method"]!));
        Assert.All(rows, r => Assert.Equal(32, (int)r["seq_len"]!));
        Assert.Equal(checkpoint, (string)rows[0]["model"]!);
        Assert.Equal(BenchCommand.GenerationParameters(modules), (long)rows[0]["params"]!);
        Assert.Equal(32, (int)rows[1]["forwards"]!);
        Assert.Equal(262, (int)rows[1]["config"]!["vocab_size"]!);
    }

    [Theory]
    [InlineData("--steps-list", "0")]
    [InlineData("--steps-list", "4,4")]
    [InlineData("--batches", "1,x")]
    [InlineData("--only", "ldlm,diffusion")]
    [InlineData("--reps", "0")]
    [InlineData("--checkpoint", "no-such-folder")]
    [InlineData("--checkpoint", "no-such-folder", "--shape", "tiny")]
    public void BadArgumentsExitNonZeroAndWriteNothing(params string[] bad)
    {
        var output = Path.Combine(_dir, "bench.jsonl");
        Assert.NotEqual(0, CliApp.Run(["bench", "ldlm", "--threads", TorchTestDefaults.Threads.ToString(), "--out", output, .. bad]));
        Assert.False(File.Exists(output));
    }

    /// <summary>The comparison model's width is the multiple of 8 whose parameter count is nearest the target (so the count
    /// is off by at most half of one 8-wide step, which is under 10 % for both --shape settings; the tiny row test checks it).</summary>
    [Property(MaxTest = 200)]
    public Property ComparisonModelHasTheNearestParameterCount() =>
        Prop.ForAll(Gen.Zip(Gen.Choose(500_000, 400_000_000), Gen.Choose(100, 160_000)).ToArbitrary(), x =>
        {
            var (target, vocab) = x;
            var config = BenchCommand.EqualParameterConfig(target, vocab);
            long count = MemoryEstimate.ParameterCount(config);
            long Distance(int hidden) => Math.Abs(MemoryEstimate.ParameterCount(config with
            {
                HiddenSize = hidden, IntermediateSize = hidden / 4 * 11,
            }) - target);
            bool nearest = Distance(config.HiddenSize) <= Distance(config.HiddenSize + 8)
                           && (config.HiddenSize == 8 || Distance(config.HiddenSize) <= Distance(config.HiddenSize - 8));
            return (nearest && config.HiddenSize % 8 == 0 && config.VocabSize == vocab && config.MaskTokenId == vocab - 1
                    && config.NumHiddenLayers == BenchCommand.LdlmComparisonLayers)
                .Label($"target {target}, vocab {vocab}: hidden {config.HiddenSize}, {count} parameters");
        });
}

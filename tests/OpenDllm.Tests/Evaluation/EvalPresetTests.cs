using System.Text.Json.Nodes;
using OpenDllm.Evaluation;
using OpenDllm.Inference;
using OpenDllm.Lora;
using OpenDllm.Models;
using OpenDllm.Sampling;
using OpenDllm.Tokenization;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Evaluation;

/// <summary>
/// Named eval presets and the score-changing knobs (issue 16 part 3): presets resolve to the anchors' values, flags
/// override them and the overrides are recorded, knobs a sampler would ignore are refused (from a flag or a preset), and a
/// LoRA adapter works through a preset end to end.
/// </summary>
[Collection("Console")]
public sealed class EvalPresetTests(ITestOutputHelper output) : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-presets-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    (int Code, string Out, string Err) Run(params string[] args)
    {
        var result = OpenDllm.Tests.Cli.CliCapture.Run(args);
        output.WriteLine($"$ opendllm {string.Join(' ', args)}\n{result.Out}{result.Err}(exit {result.Code})");
        return result;
    }

    [Fact]
    public void PresetsCarryTheAnchorsValues()
    {
        var infill = EvalPresets.Resolve(EvalPresets.Find("open-dllm-infill"), new EvalKnobs(), BenchmarkTask.HumanEvalInfillSingleLine);
        Assert.Equal(("p2", 64, 0.6, 0.95, "oracle", EosRule.Strip), (infill.Sampler, infill.Steps, infill.Temperature, infill.TopP, infill.Lengths, infill.Eos));
        var completion = EvalPresets.Resolve(EvalPresets.Find("open-dllm-completion"), new EvalKnobs(), BenchmarkTask.HumanEval);
        Assert.Equal(("p2", 128, 128, 0.8, 200, 10, "1,10"),
            (completion.Sampler, completion.MaxNewTokens, completion.Steps, completion.Temperature, completion.TopK, completion.SamplesPerTask, completion.K));
        Assert.Null(completion.TopP);                    // upstream's top_p=0.95 never reaches its sampler (SPEC §7.2)
        var fast = EvalPresets.Resolve(EvalPresets.Find("FAST-DLLM-HUMANEVAL"), new EvalKnobs(), BenchmarkTask.HumanEval);
        Assert.Equal(("fast-dllm-dual", 256, 32, 0.9, false, EosRule.Cut), (fast.Sampler, fast.MaxNewTokens, fast.BlockLength, fast.Threshold, fast.StopStrings, fast.Eos));
        Assert.Null(fast.Steps);
    }

    [Fact]
    public void FlagsOverrideAPresetAndAreListed()
    {
        var preset = EvalPresets.Find("open-dllm-infill");
        var flags = new EvalKnobs { Temperature = 0, Seed = 7 };
        var resolved = EvalPresets.Resolve(preset, flags, BenchmarkTask.HumanEvalInfillSingleLine);
        Assert.Equal(0, resolved.Temperature);
        Assert.Equal(64, resolved.Steps);
        Assert.Equal(new[] { "--temperature 0" }, EvalPresets.Overrides(preset, flags));   // the seed is not a preset value
    }

    [Fact]
    public void IgnoredKnobsAndWrongTasksAreRefused()
    {
        string Refusal(EvalPreset? preset, EvalKnobs flags, BenchmarkTask task = BenchmarkTask.HumanEval) =>
            Assert.Throws<ArgumentException>(() => EvalPresets.Resolve(preset, flags, task)).Message;
        Assert.Contains("--steps 8 is not used by the fast-dllm-dual", Refusal(EvalPresets.FastDllmHumanEval, new EvalKnobs { Steps = 8 }));
        Assert.Contains("--alg-temp", Refusal(EvalPresets.OpenDllmCompletion, new EvalKnobs { AlgTemp = 0.5 }));
        Assert.Contains("--threshold", Refusal(null, new EvalKnobs { Sampler = "entropy", Threshold = 0.8 }));
        Assert.Contains("--block-length", Refusal(null, new EvalKnobs { Sampler = "p2", BlockLength = 16 }));
        Assert.Contains("--top-k", Refusal(null, new EvalKnobs { Sampler = "llada", TopK = 5 }));
        Assert.Contains("--steps", Refusal(null, new EvalKnobs { Sampler = "ar", Steps = 5 }));
        Assert.Contains("--refresh-interval", Refusal(null, new EvalKnobs { Sampler = "fast-dllm-dual", RefreshInterval = 4 }));
        Assert.Contains("--refresh-interval", Refusal(EvalPresets.FastDllmHumanEval, new EvalKnobs { RefreshInterval = 4 }));
        // a preset's knob the sampler given with --sampler would ignore: named with the preset
        var fromPreset = Refusal(EvalPresets.OpenDllmInfill, new EvalKnobs { Sampler = "llada" }, BenchmarkTask.HumanEvalInfillSingleLine);
        Assert.Contains("--top-p 0.95 from preset open-dllm-infill", fromPreset);
        Assert.Contains("reproduces humaneval-infill-single, not mbpp", Refusal(EvalPresets.OpenDllmInfill, new EvalKnobs(), BenchmarkTask.Mbpp));
        Assert.Contains("--stop-strings", Refusal(null, new EvalKnobs { StopStrings = false }, BenchmarkTask.HumanEvalInfillSingleLine));
        Assert.Contains("unknown preset 'dream'", Assert.Throws<ArgumentException>(() => EvalPresets.Find("dream")).Message);
        // what every sampler uses is accepted
        EvalPresets.Resolve(null, new EvalKnobs { Sampler = "fast-dllm-prefix", BlockLength = 8, Threshold = 0.5, Factor = 1, TopP = 0.9 }, BenchmarkTask.HumanEval);
        EvalPresets.Resolve(EvalPresets.FastDllmHumanEval, new EvalKnobs { Sampler = "fast-dllm-dkv", RefreshInterval = 4 }, BenchmarkTask.HumanEval);
        EvalPresets.Resolve(null, new EvalKnobs { Sampler = "entropy", AlgTemp = 0.3, Steps = 4, TopK = 3 }, BenchmarkTask.HumanEval);
    }

    [Fact]
    public void PresetsAreListed()
    {
        var (code, text, _) = Run("eval", "presets");
        Assert.Equal(0, code);
        foreach (var preset in EvalPresets.All) Assert.Contains(preset.Name, text);
        Assert.Contains("run_eval.sh", text);
        var (code2, text2, _) = Run("eval", "humaneval", "--preset", "list");
        Assert.Equal(0, code2);
        Assert.Equal(text, text2);
    }

    [Fact]
    public void TheCliRefusesIgnoredKnobsBeforeLoadingAModel()
    {
        var (code, _, err) = Run("eval", "humaneval", "--checkpoint", Path.Combine(_dir, "absent"), "--preset", "fast-dllm-humaneval", "--steps", "8");
        Assert.Equal(1, code);
        Assert.Contains("--steps 8 is not used by the fast-dllm-dual (preset fast-dllm-humaneval) sampler", err);
        Assert.Single(err.Trim().Split('\n'));
        (code, _, err) = Run("eval", "humaneval-infill", "--checkpoint", Path.Combine(_dir, "absent"), "--preset", "open-dllm-completion");
        Assert.Equal(1, code);
        Assert.Contains("not humaneval-infill-single", err);
        (code, _, err) = Run("eval", "humaneval", "--checkpoint", Path.Combine(_dir, "absent"), "--alg", "p2", "--alg-temp", "0.5");
        Assert.Equal(1, code);
        Assert.Contains("--alg-temp 0.5 is not used by the p2 sampler", err);
    }

    [Fact]
    public void TheEosRuleCutsOrStripsTheGeneratedSpan()
    {
        var pipeline = DiffusionPipeline.Load(Base());
        var t = pipeline.Tokenizer;
        long[] Ids(string s) => t.Encode(s).Select(i => (long)i).ToArray();
        long eos = t.Special.Eos;
        // prefix "p", generated "a EOS b" (3 tokens), suffix "xy"
        long[] row = [.. Ids("p"), .. Ids("a"), eos, .. Ids("b"), .. Ids("xy")];
        using var sequences = tensor(row).unsqueeze(0);
        var generation = new Generation("a", [.. Ids("a")], new SamplerOutput(sequences, 1));
        Assert.Equal("a", GenerationEvaluation.ApplyEosRule(pipeline, generation, 0, 3, Ids("xy").Length, EosRule.Cut));
        Assert.Equal("ab", GenerationEvaluation.ApplyEosRule(pipeline, generation, 0, 3, Ids("xy").Length, EosRule.Strip));
        Assert.Equal("bxy", GenerationEvaluation.ApplyEosRule(pipeline, generation, 0, 4, 0, EosRule.Strip));   // a completion: the last 4 tokens
    }

    [Fact]
    public void AnAdapterWorksThroughAPresetAndResultsRecordIt()
    {
        if (!BenchmarkTestData.TryGetDirectory(output, out var data)) return;
        var adapter = Adapter("adapter", 5);
        var outDir = Path.Combine(_dir, "eval-infill");
        string[] Args(params string[] extra) =>
            ["eval", "humaneval-infill", "--checkpoint", Base(), "--adapter", adapter, "--data", data, "--out", outDir, "--limit", "2",
             "--preset", "open-dllm-infill", "--timeout", "30", .. extra];
        var (code, text, _) = Run(Args());
        Assert.Equal(0, code);
        Assert.Contains("preset: open-dllm-infill", text);
        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "results.json")))!;
        Assert.Equal("open-dllm-infill", (string?)results["preset"]);
        Assert.Equal(("p2", 64, 0.6, 0.95, "strip", "oracle"),
            ((string?)results["sampler"], (int)results["steps"]!, (double)results["temperature"]!, (double?)results["top_p"], (string?)results["eos_rule"], (string?)results["infill_length"]));
        Assert.Equal(PeftAdapterIO.Hash(adapter), (string?)results["adapter_sha256"]);
        Assert.Null(results["block_length"]);   // p2 reads no block length or threshold
        Assert.Null(results["threshold"]);
        Assert.Empty(results["preset_overrides"]!.AsArray());

        (code, text, _) = Run(Args("--temperature", "0", "--eos", "cut"));
        Assert.Equal(0, code);
        Assert.Contains("overridden: --temperature 0, --eos cut", text);
        results = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "results.json")))!;
        Assert.Equal(0.0, (double)results["temperature"]!);
        Assert.Equal(new[] { "--temperature 0", "--eos cut" }, results["preset_overrides"]!.AsArray().Select(n => (string)n!));
        Assert.Contains("re-scored because the settings changed", text);
    }

    [Fact]
    public void TheFastDllmPresetRunsEndToEnd()
    {
        if (!BenchmarkTestData.TryGetDirectory(output, out var data)) return;
        var outDir = Path.Combine(_dir, "eval-fast");
        var (code, _, _) = Run("eval", "humaneval", "--checkpoint", Base(), "--data", data, "--out", outDir, "--limit", "1",
            "--preset", "fast-dllm-humaneval", "--max-new-tokens", "32", "--timeout", "30");
        Assert.Equal(0, code);
        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "results.json")))!;
        Assert.Equal(("fast-dllm-dual", 32, 32, 0.9, false, "cut"),
            ((string?)results["sampler"], (int)results["max_new_tokens"]!, (int)results["block_length"]!, (double)results["threshold"]!,
             (bool)results["stop_strings"]!, (string?)results["eos_rule"]));
        Assert.Equal(new[] { "--max-new-tokens 32" }, results["preset_overrides"]!.AsArray().Select(n => (string)n!));
        Assert.Null(results["steps"]);          // fast-dllm reads no step count: recorded as null, not as a number it ignored
        Assert.Null(results["alg_temp"]);
    }

    /// <summary>A tiny seeded checkpoint with the byte tokenizer.</summary>
    string Base()
    {
        var dir = Path.Combine(_dir, "base");
        if (Directory.Exists(dir)) return dir;
        using var scope = NewDisposeScope();
        var model = new Qwen2Model(OpenDllm.Config.ModelConfig.Tiny with { VocabSize = ByteTokenizer.Instance.VocabSize, MaxPositionEmbeddings = 4096 })
            .InitializeWeights(3);
        model.SavePretrained(dir);
        ByteTokenizer.Instance.Save(dir);
        return dir;
    }

    /// <summary>A PEFT adapter for <see cref="Base"/> with non-zero B.</summary>
    string Adapter(string name, long seed)
    {
        var dir = Path.Combine(_dir, name);
        using var scope = NewDisposeScope();
        using var model = Qwen2Model.FromPretrained(Base());
        using var adapters = LoraAdapters.Attach(model, new LoraOptions(Rank: 4, Alpha: 8, Dropout: 0, Seed: seed));
        OpenDllm.Tests.Lora.LoraTestModels.RandomizeB(adapters, seed, std: 0.5);
        PeftAdapterIO.Save(adapters, dir, Base());
        return dir;
    }
}

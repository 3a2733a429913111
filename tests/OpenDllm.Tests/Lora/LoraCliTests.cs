using System.Text.Json.Nodes;
using OpenDllm.Cli;
using OpenDllm.Evaluation;
using OpenDllm.Inference;
using OpenDllm.Lora;
using OpenDllm.Models;
using OpenDllm.Sampling;
using OpenDllm.Tests.Evaluation;
using OpenDllm.Tokenization;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Lora;

/// <summary>`--adapter` on sample/inspect/eval and `opendllm lora merge`, on a tiny byte-tokenizer checkpoint.</summary>
[Collection("Console")]
public sealed class LoraCliTests(ITestOutputHelper output) : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-lora-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    (int Code, string Out, string Err) Run(params string[] args)
    {
        var (stdout, stderr) = (Console.Out, Console.Error);
        using var outWriter = new StringWriter();
        using var errWriter = new StringWriter();
        Console.SetOut(outWriter);
        Console.SetError(errWriter);
        int code;
        try { code = CliApp.Run(args); }
        finally { Console.SetOut(stdout); Console.SetError(stderr); }
        output.WriteLine($"$ opendllm {string.Join(' ', args)}\n{outWriter}{errWriter}(exit {code})");
        return (code, outWriter.ToString(), errWriter.ToString());
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

    /// <summary>An adapter for <see cref="Base"/> with non-zero B (seeded by <paramref name="seed"/>).</summary>
    string Adapter(string name, long seed)
    {
        var dir = Path.Combine(_dir, name);
        using var scope = NewDisposeScope();
        using var model = Qwen2Model.FromPretrained(Base());
        using var adapters = LoraAdapters.Attach(model, new LoraOptions(Rank: 4, Alpha: 8, Dropout: 0, Seed: seed));
        LoraTestModels.RandomizeB(adapters, seed, std: 0.5);
        PeftAdapterIO.Save(adapters, dir, Base());
        return dir;
    }

    [Fact]
    public void MergeWritesACheckpointThatGeneratesWhatTheAdapterGenerates()
    {
        var adapter = Adapter("adapter", 1);
        var merged = Path.Combine(_dir, "merged");
        var (code, text, _) = Run("lora", "merge", Base(), adapter, "--out", merged);
        Assert.Equal(0, code);
        Assert.Contains("float32", text);

        using var scope = NewDisposeScope();
        var withAdapter = DiffusionPipeline.Load(Base(), adapter: adapter);
        var plain = DiffusionPipeline.Load(merged);
        var baseOnly = DiffusionPipeline.Load(Base());
        Assert.NotNull(withAdapter.Adapter);
        Assert.Null(plain.Adapter);
        var settings = new SamplerSettings { Steps = 16, Seed = 2 };
        var a = withAdapter.Complete("def add(a, b):", 16, SamplerFactory.Create("maskgit_plus", settings));
        var m = plain.Complete("def add(a, b):", 16, SamplerFactory.Create("maskgit_plus", settings));
        var b = baseOnly.Complete("def add(a, b):", 16, SamplerFactory.Create("maskgit_plus", settings));
        Assert.Equal(a.Ids, m.Ids);
        Assert.NotEqual(a.Ids, b.Ids);      // the adapter matters, so the equality above means something

        Assert.Equal(0, Run("sample", Base(), "--adapter", adapter, "--prompt", "def add(a, b):", "--length", "8", "--steps", "8").Code);
        var ids = Path.Combine(_dir, "ids.json");
        File.WriteAllText(ids, "[[100, 101, 102, 40, 41, 58]]");
        string adapted = Path.Combine(_dir, "adapted.safetensors"), folded = Path.Combine(_dir, "merged.safetensors");
        Assert.Equal(0, Run("inspect", Base(), "--adapter", adapter, "--input", ids, "--out", adapted).Code);
        Assert.Equal(0, Run("inspect", merged, "--input", ids, "--out", folded).Code);
        using (var fa = OpenDllm.Checkpoints.SafetensorsFile.Open(adapted))
        using (var fm = OpenDllm.Checkpoints.SafetensorsFile.Open(folded))
        {
            Fixture.AssertClose(fm.Read("logits"), fa.Read("logits"), 1e-5, "inspect --adapter vs merged");
            Assert.Equal(PeftAdapterIO.Hash(adapter), fa.Metadata["adapter_sha256"]);
        }
    }

    [Fact]
    public void MergeRefusesToOverwriteItsInputsAndBadAdaptersFailWithOneLine()
    {
        var adapter = Adapter("adapter-guard", 2);
        var baseBytes = File.ReadAllBytes(Path.Combine(Base(), "model.safetensors"));
        var (code, _, err) = Run("lora", "merge", Base(), adapter, "--out", Base());
        Assert.Equal(1, code);
        Assert.Contains("--out", err);
        Assert.Equal(1, Run("lora", "merge", Base(), adapter, "--out", adapter).Code);
        Assert.Equal(baseBytes, File.ReadAllBytes(Path.Combine(Base(), "model.safetensors")));

        var configPath = Path.Combine(adapter, PeftAdapterConfig.FileName);
        var json = JsonNode.Parse(File.ReadAllText(configPath))!.AsObject();
        json["use_dora"] = true;
        File.WriteAllText(configPath, json.ToJsonString());
        (code, _, err) = Run("sample", Base(), "--adapter", adapter, "--prompt", "x", "--length", "4", "--steps", "4");
        Assert.Equal(1, code);
        Assert.Contains("use_dora = true", err);
        Assert.Equal(1, Run("lora", "merge", Base(), adapter, "--out", Path.Combine(_dir, "never")).Code);
        Assert.False(Directory.Exists(Path.Combine(_dir, "never")));
        Assert.Equal(1, Run("sample", Base(), "--adapter", Path.Combine(_dir, "missing"), "--prompt", "x").Code);
    }

    /// <summary>Results are never resumed across adapters: the adapter's hash is part of the generation provenance.</summary>
    [Fact]
    public void EvalReScoresWhenTheAdapterChanges()
    {
        if (!BenchmarkTestData.TryGetDirectory(output, out var data)) return;
        var outDir = Path.Combine(_dir, "eval");
        string[] Args(string adapter, string? to = null) =>
            ["eval", "humaneval", "--checkpoint", Base(), "--adapter", adapter, "--data", data, "--out", to ?? outDir, "--limit", "2",
             "--max-new-tokens", "4", "--steps", "4"];
        var first = Adapter("adapter-a", 3);
        Assert.Equal(0, Run(Args(first)).Code);
        var (code, text, _) = Run(Args(Adapter("adapter-b", 4)));
        Assert.Equal(0, code);
        Assert.Contains("generation.adapter_sha256", text);
        var results = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "results.json")))!;
        Assert.Equal(PeftAdapterIO.Hash(Path.Combine(_dir, "adapter-b")), (string?)results["adapter_sha256"]);
        Assert.Equal(1, Run(Args(first, first)).Code);     // --out = the adapter folder is refused
    }
}

using OpenDllm.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Checkpoints;

public class StateDictIOTests
{
    /// <summary>Linear layers plus own parameters and a persistent integer buffer.</summary>
    sealed class Toy : nn.Module
    {
        public readonly Sequential body;
        public readonly Parameter scale;
        public readonly Tensor steps;

        public Toy(int hidden = 4, int output = 3) : base(nameof(Toy))
        {
            body = nn.Sequential(("proj", nn.Linear(5, hidden)), ("out", nn.Linear(hidden, output)));
            scale = new Parameter(torch.randn(hidden));
            steps = torch.arange(3, dtype: ScalarType.Int64);
            register_buffer("steps", steps);
            RegisterComponents();
        }
    }

    static void AssertSameState(nn.Module expected, nn.Module actual)
    {
        var a = expected.state_dict();
        var b = actual.state_dict();
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var (key, value) in a)
            Assert.True(value.eq(b[key]).all().item<bool>(), key);
    }

    static Toy Randomized(int seed)
    {
        torch.manual_seed(seed);
        return new Toy();
    }

    [Fact]
    public void SingleFileRoundTripWithFormatMetadata()
    {
        using var scope = torch.NewDisposeScope();
        using var dir = new TempDir();
        var source = Randomized(1);
        var written = StateDictIO.Save(source, dir.Path);
        Assert.Equal([dir.File("model.safetensors")], written);
        using (var file = SafetensorsFile.Open(written[0])) Assert.Equal("pt", file.Metadata["format"]);

        var target = Randomized(2);
        var report = StateDictIO.Load(target, dir.Path);
        Assert.Equal(source.state_dict().Count, report.Loaded.Count);
        AssertSameState(source, target);
    }

    [Fact]
    public void StrictLoadListsMissingUnexpectedAndShapeMismatches()
    {
        using var scope = torch.NewDisposeScope();
        using var dir = new TempDir();
        var source = Randomized(1);
        StateDictIO.Save(source, dir.Path, new StateDictSaveOptions { OmitKeys = ["scale"] });
        // Add a stray tensor and change one shape by writing the file again by hand.
        using (var ckpt = SafetensorsCheckpoint.Open(dir.Path))
        {
            var tensors = ckpt.Names.Where(n => n != "body.out.bias").Select(n => (n, ckpt.Read(n))).ToList();
            tensors.Add(("body.out.bias", torch.zeros(7)));
            tensors.Add(("stray.weight", torch.zeros(2)));
            ckpt.Dispose();
            SafetensorsWriter.Save(dir.File("model.safetensors"), tensors);
        }
        var target = Randomized(2);
        var before = target.body.state_dict()["proj.weight"].clone();
        var e = Assert.Throws<CheckpointMismatchException>(() => StateDictIO.Load(target, dir.Path));
        Assert.Equal(["scale"], e.Missing);
        Assert.Equal(["stray.weight"], e.Unexpected);
        var mismatch = Assert.Single(e.ShapeMismatches);
        Assert.Equal("body.out.bias", mismatch.Name);
        Assert.Equal([3L], mismatch.Expected);
        Assert.Equal([7L], mismatch.Found);
        Assert.Contains(dir.Path, e.Message);
        Assert.Contains("scale", e.Message);
        Assert.Contains("stray.weight", e.Message);
        Assert.Contains("body.out.bias: expected [3], found [7]", e.Message);
        Assert.True(before.eq(target.body.state_dict()["proj.weight"]).all().item<bool>(), "nothing is copied when validation fails");
    }

    [Fact]
    public void AllowMissingAndIgnoredKeys()
    {
        using var scope = torch.NewDisposeScope();
        using var dir = new TempDir();
        var source = Randomized(1);
        StateDictIO.Save(source, dir.Path, new StateDictSaveOptions { OmitKeys = ["scale"] });

        var target = Randomized(2);
        var keep = target.scale.clone();
        var report = StateDictIO.Load(target, dir.Path, new StateDictLoadOptions { AllowMissing = true });
        Assert.Equal(["scale"], report.Missing);
        Assert.True(keep.eq(target.scale).all().item<bool>());

        // A tied head the file carries anyway: ignored on both sides.
        var target2 = Randomized(3);
        var ignored = StateDictIO.Load(target2, dir.Path, new StateDictLoadOptions { IgnoredCheckpointKeys = ["scale"] });
        Assert.Equal(["scale"], ignored.Ignored);
        Assert.Empty(ignored.Missing);
    }

    [Fact]
    public void IgnoringATiedKeyTheFileCarries()
    {
        using var scope = torch.NewDisposeScope();
        using var dir = new TempDir();
        var source = Randomized(1);
        var tensors = source.state_dict().Select(kv => (kv.Key, kv.Value)).Append(("lm_head.weight", torch.ones(3, 4))).ToList();
        SafetensorsWriter.Save(dir.File("model.safetensors"), tensors);

        var target = Randomized(2);
        var e = Assert.Throws<CheckpointMismatchException>(() => StateDictIO.Load(target, dir.Path));
        Assert.Equal(["lm_head.weight"], e.Unexpected);
        var report = StateDictIO.Load(target, dir.Path, new StateDictLoadOptions { IgnoredCheckpointKeys = ["lm_head.weight"] });
        Assert.Equal(["lm_head.weight"], report.Ignored);
        AssertSameState(source, target);
    }

    [Fact]
    public void ShardedSaveWritesHfIndexAndLoadsBack()
    {
        using var scope = torch.NewDisposeScope();
        using var dir = new TempDir();
        var source = Randomized(1);
        var written = StateDictIO.Save(source, dir.Path, new StateDictSaveOptions { MaxShardBytes = 64 });
        Assert.Equal(dir.File(SafetensorsCheckpoint.IndexFileName), written[^1]);
        int shards = written.Count - 1;
        Assert.True(shards > 1);
        for (int i = 0; i < shards; i++) Assert.Equal(dir.File($"model-{i + 1:D5}-of-{shards:D5}.safetensors"), written[i]);
        Assert.False(File.Exists(dir.File("model.safetensors")));

        using (var ckpt = SafetensorsCheckpoint.Open(dir.Path))
        {
            long total = source.state_dict().Values.Sum(t => t.numel() * t.element_size());
            Assert.Equal(total.ToString(), ckpt.Metadata["total_size"]);
            Assert.Equal(shards, ckpt.Files.Count);
        }
        var target = Randomized(2);
        StateDictIO.Load(target, dir.Path);
        AssertSameState(source, target);

        // A single-file save beside the index would leave the folder ambiguous (which layout is current?): refused.
        Assert.Throws<IOException>(() => StateDictIO.Save(source, dir.Path));
        Assert.Equal(written.Order(), Directory.GetFiles(dir.Path).Order());
    }

    [Fact]
    public void Bf16SaveLoadsExactlyIntoFp32AndKeepsIntegerBuffers()
    {
        using var scope = torch.NewDisposeScope();
        using var dir = new TempDir();
        var source = Randomized(1);
        // Make every float exactly representable in bf16.
        using (torch.no_grad())
            foreach (var p in source.parameters()) p.copy_(p.to(ScalarType.BFloat16).to(ScalarType.Float32));
        StateDictIO.Save(source, dir.Path, new StateDictSaveOptions { DType = ScalarType.BFloat16 });
        using (var ckpt = SafetensorsCheckpoint.Open(dir.Path))
        {
            Assert.Equal(SafetensorsDType.BF16, ckpt.GetEntry("body.proj.weight").DType);
            Assert.Equal(SafetensorsDType.I64, ckpt.GetEntry("steps").DType);
        }
        var target = Randomized(2);
        StateDictIO.Load(target, dir.Path);
        Assert.Equal(ScalarType.Float32, target.scale.dtype);
        AssertSameState(source, target);
    }

    [Fact]
    public void SaveDoesNotDeleteOtherFiles()
    {
        using var scope = torch.NewDisposeScope();
        using var dir = new TempDir();
        File.WriteAllText(dir.File("config.json"), "{}");
        StateDictIO.Save(Randomized(1), dir.Path);
        StateDictIO.Save(Randomized(2), dir.Path);
        Assert.Equal(["config.json", "model.safetensors"], Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order());
    }
}

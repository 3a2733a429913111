using OpenDllm.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Checkpoints;

/// <summary>NaN / ±Inf weights are an error naming the tensor; mismatch messages say what is wrong on their first line.</summary>
public class StateDictFiniteTests
{
    [Fact]
    public void NonFiniteWeightsAreRefusedNamingTheTensor()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDir();
        var source = nn.Sequential(("a", nn.Linear(3, 4)), ("b", nn.Linear(4, 2)));
        using (no_grad())
        {
            source.state_dict()["b.weight"][1, 2] = tensor(float.NegativeInfinity);
            source.state_dict()["b.bias"][0] = tensor(float.NaN);
        }
        StateDictIO.Save(source, dir.Path);

        var target = nn.Sequential(("a", nn.Linear(3, 4)), ("b", nn.Linear(4, 2)));
        var error = Assert.Throws<InvalidDataException>(() => StateDictIO.Load(target, dir.Path));
        Assert.Contains("tensor 'b.", error.Message);
        Assert.Contains("1 non-finite value(s)", error.Message);
        Assert.Contains(dir.Path, error.Message);

        var report = StateDictIO.Load(target, dir.Path, new StateDictLoadOptions { AllowNonFinite = true });
        Assert.Equal(4, report.Loaded.Count);
        Assert.True(target.state_dict()["b.bias"][0].isnan().item<bool>());
    }

    [Fact]
    public void TheFirstLineOfAMismatchSaysWhatIsWrong()
    {
        var shapes = new[] { new ShapeMismatch("x.weight", [3, 4], [3, 5]) };
        var plain = new CheckpointMismatchException("/ckpt", ["a", "b"], [], shapes);
        Assert.Equal("Checkpoint /ckpt does not match the module: 1 shape mismatch (first: x.weight: expected [3, 4], found [3, 5]), "
                     + "2 missing keys (first: a)", plain.Message.Split('\n')[0].TrimEnd('\r'));

        var config = new CheckpointMismatchException("/ckpt", [], [], shapes, ["hidden_size = 8 does not fit e [3, 5]"], "/ckpt/config.json");
        Assert.StartsWith("/ckpt/config.json does not match the checkpoint /ckpt: hidden_size = 8 does not fit e [3, 5]", config.Message);
        Assert.Contains("x.weight: expected [3, 4], found [3, 5]", config.Message);

        var many = new CheckpointMismatchException("/ckpt", Enumerable.Range(0, 100).Select(i => $"k{i}").ToList(), [], []);
        Assert.Contains("… and 60 more", many.Message);
        Assert.Equal(100, many.Missing.Count);
    }
}

using OpenDllm.Attention;
using OpenDllm.Checkpoints;
using OpenDllm.Models;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Models;

/// <summary>
/// Logits and hidden states against the PyTorch reference (../shared/reference/golden.py): the shared tiny case
/// (tied) and our own (untied, head_dim ≠ hidden/heads, rope_theta 1e4, 1 kv head), float32, max |Δ| ≤ 1e-5.
/// </summary>
public class Qwen2ParityTests(ITestOutputHelper output)
{
    public const double Tolerance = 1e-5;

    [Theory]
    [InlineData("tiny")]
    [InlineData("tiny_untied_hd24")]
    public void LogitsMatchReferenceInCausalAndBidirectionalModes(string name)
    {
        using var scope = NewDisposeScope();
        var dir = Fixture.GoldenDir(name);
        var model = Qwen2Model.FromPretrained(dir);
        using var golden = SafetensorsFile.Open(Path.Combine(dir, "golden.safetensors"));
        var ids = golden.Read("input_ids");
        using var noGrad = no_grad();
        var causal = model.Logits(ids, AttentionPolicy.Causal);
        var bidirectional = model.Logits(ids, AttentionPolicy.Bidirectional);
        var masked = model.Logits(golden.Read("x_t"), AttentionPolicy.Bidirectional);
        double dc = Fixture.MaxAbsDiff(golden.Read("logits_causal"), causal);
        double db = Fixture.MaxAbsDiff(golden.Read("logits_bidirectional"), bidirectional);
        double dx = Fixture.MaxAbsDiff(golden.Read("logits_bidirectional_xt"), masked);
        output.WriteLine($"{name}: max |Δlogit| causal {dc:E2}, bidirectional {db:E2}, bidirectional on x_t {dx:E2}");
        Assert.True(dc <= Tolerance, $"causal {dc}");
        Assert.True(db <= Tolerance, $"bidirectional {db}");
        Assert.True(dx <= Tolerance, $"bidirectional x_t {dx}");
    }

    [Theory]
    [InlineData("tiny")]
    [InlineData("tiny_untied_hd24")]
    public void HiddenStatesFollowHuggingFaceLayout(string name)
    {
        using var scope = NewDisposeScope();
        var dir = Fixture.GoldenDir(name);
        var model = Qwen2Model.FromPretrained(dir);
        using var golden = SafetensorsFile.Open(Path.Combine(dir, "golden.safetensors"));
        using var noGrad = no_grad();
        foreach (var (mode, policy) in new[] { ("causal", AttentionPolicy.Causal), ("bidirectional", AttentionPolicy.Bidirectional) })
        {
            var result = model.forward(new ModelInput(golden.Read("input_ids"), policy, ReturnHiddenStates: true));
            int layers = model.Config.NumHiddenLayers;
            Assert.Equal(layers + 1, result.HiddenStates!.Count);
            Fixture.AssertClose(golden.Read("embed_out"), result.HiddenStates[0], Tolerance, "embedding output");
            for (int k = 0; k < layers - 1; k++)
                Fixture.AssertClose(golden.Read($"hidden_{mode}_layer{k}"), result.HiddenStates[k + 1], Tolerance, $"{mode} layer {k}");
            // the last entry is the final-norm output: the logits are its projection
            var projected = result.HiddenStates[layers].matmul(model.HeadWeight.t());
            Fixture.AssertClose(result.Logits, projected, 1e-6, "head of the final hidden state");
        }
    }

    [Fact]
    public void RotaryTablesMatchReference()
    {
        using var scope = NewDisposeScope();
        foreach (var name in new[] { "tiny", "tiny_untied_hd24" })
        {
            var dir = Fixture.GoldenDir(name);
            var config = OpenDllm.Config.ModelConfig.Load(dir);
            using var golden = SafetensorsFile.Open(Path.Combine(dir, "golden.safetensors"));
            long length = golden.Read("input_ids").shape[1];
            var (cos, sin) = OpenDllm.Modules.RotaryEmbedding.CosSin(arange(length), config.HeadDim, config.RopeTheta);
            Fixture.AssertClose(golden.Read("rope_cos"), cos, 1e-6, $"{name} cos");
            Fixture.AssertClose(golden.Read("rope_sin"), sin, 1e-6, $"{name} sin");
        }
    }
}

using OpenDllm.Attention;
using OpenDllm.Config;
using OpenDllm.Models;
using OpenDllm.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Models;

/// <summary>bf16 mixed precision (float32 masters, bf16 compute) against float32 and pure bf16 on a tiny Qwen2.</summary>
public class MixedPrecisionTests
{
    static readonly ModelConfig Config = ModelConfig.Tiny with { HiddenSize = 64, IntermediateSize = 128 };

    static Qwen2Model Model(TrainingPrecision precision) =>
        TrainingPrecisions.Apply(new Qwen2Model(Config).InitializeWeights(seed: 5), precision);

    static Tensor Tokens(long seed = 3) =>
        randint(0, Config.VocabSize, [2, 24], generator: new Generator((ulong)seed), dtype: ScalarType.Int64);

    /// <summary>Mean CE of a bidirectional forward against shifted targets, computed in float32.</summary>
    static Tensor Loss(Qwen2Model model, Tensor tokens)
    {
        var logits = model.Logits(tokens, AttentionPolicy.Bidirectional);
        var targets = tokens.roll(1, 1);
        return nn.functional.cross_entropy(logits.reshape(-1, Config.VocabSize).to(ScalarType.Float32), targets.reshape(-1));
    }

    [Fact]
    public void MixedKeepsFloat32ParametersComputesInBf16AndReturnsFloat32Logits()
    {
        using var scope = NewDisposeScope();
        var model = Model(TrainingPrecision.Bf16Mixed);
        Assert.All(model.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
        var output = model.forward(new ModelInput(Tokens(), AttentionPolicy.Bidirectional, ReturnHiddenStates: true));
        Assert.All(output.HiddenStates!, h => Assert.Equal(ScalarType.BFloat16, h.dtype));
        Assert.Equal(ScalarType.Float32, output.Logits.dtype);
        Assert.Equal(ScalarType.BFloat16, Model(TrainingPrecision.Bf16).parameters().First().dtype);
        Assert.Null(Model(TrainingPrecision.Fp32).ComputeDtype);
    }

    [Fact]
    public void MixedPrecisionForwardStaysWithinBf16ToleranceOfFloat32()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var tokens = Tokens();
        var reference = Model(TrainingPrecision.Fp32).Logits(tokens, AttentionPolicy.Bidirectional);
        var mixed = Model(TrainingPrecision.Bf16Mixed).Logits(tokens, AttentionPolicy.Bidirectional);
        double diff = Fixture.MaxAbsDiff(reference, mixed), scale = reference.abs().max().item<float>();
        Assert.True(diff < 0.02 * scale, $"max |Δ logits| = {diff:E2}, logits up to {scale:E2}");
        Assert.True(diff > 0, "mixed precision gave float32's logits bit for bit: nothing ran in bf16");
    }

    /// <summary>
    /// ∂L/∂θ under mixed precision equals float32's within bf16 tolerance, for every parameter, and lands in float32 on
    /// the parameter itself. Tolerance: bf16 keeps 8 significant bits (relative rounding ≤ 2⁻⁸ ≈ 0.4%); through two layers
    /// forward and back the relative error of a gradient tensor is a few percent at most.
    /// </summary>
    [Fact]
    public void GradientsEqualFloat32GradientsWithinBf16Tolerance()
    {
        using var scope = NewDisposeScope();
        var tokens = Tokens();
        var reference = Model(TrainingPrecision.Fp32);
        var mixed = Model(TrainingPrecision.Bf16Mixed);
        Loss(reference, tokens).backward();
        Loss(mixed, tokens).backward();
        var expected = reference.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!);
        var relative = new Dictionary<string, double>();
        foreach (var (name, p) in mixed.named_parameters())
        {
            var grad = p.grad;
            Assert.True(grad is not null, $"{name}: no gradient reached the float32 master");
            Assert.Equal(ScalarType.Float32, grad!.dtype);
            var g = expected[name];
            relative[name] = (grad - g).norm().item<float>() / Math.Max(1e-12, g.norm().item<float>());
        }
        var report = string.Join(", ", relative.Select(r => $"{r.Key} {r.Value:E1}"));
        Assert.True(relative.Values.Max() < 0.03, $"‖g_mixed − g_fp32‖ / ‖g_fp32‖ too large: {report}");
        Assert.True(relative.Values.Min() > 1e-4, $"gradients agree too well, the backward did not run in bf16: {report}");
    }

    /// <summary>
    /// The reason for float32 masters: one AdamW step at lr 3e-6 (recipes' lr_min) moves a weight by about 3e-6. On a bf16
    /// weight of 1 that is far below half an ulp (2⁻⁸ = 0.0039) and rounds away; on a float32 master it is kept.
    /// </summary>
    [Fact]
    public void ASmallUpdateIsLostOnBf16WeightsAndKeptOnFloat32Masters()
    {
        const double lr = 3e-6;
        foreach (var precision in new[] { TrainingPrecision.Bf16, TrainingPrecision.Bf16Mixed })
        {
            using var scope = NewDisposeScope();
            var model = Model(precision);
            var norms = model.named_parameters().Where(p => p.name.EndsWith("norm.weight", StringComparison.Ordinal))
                             .Select(p => p.parameter).ToList();                            // all exactly 1 after init
            var before = norms.Select(p => p.detach().clone()).ToList();
            using var optimizer = optim.AdamW(model.parameters(), lr, 0.9, 0.95, 1e-8, weight_decay: 0);
            Loss(model, Tokens()).backward();
            optimizer.step();
            for (int i = 0; i < norms.Count; i++)
            {
                var delta = (norms[i].detach().to(ScalarType.Float64) - before[i].to(ScalarType.Float64)).abs();
                double changed = delta.gt(0).to(ScalarType.Float64).mean().item<double>();
                if (precision == TrainingPrecision.Bf16)
                    Assert.True(changed == 0, $"bf16: {changed:P0} of a norm weight moved; a 3e-6 step should round away");
                else
                {
                    Assert.True(changed > 0.9, $"bf16_mixed: only {changed:P0} of a norm weight moved");
                    Assert.True(delta.max().item<double>() < 2 * lr, "an Adam step moves a weight by about lr, not more");
                }
            }
        }
    }
}

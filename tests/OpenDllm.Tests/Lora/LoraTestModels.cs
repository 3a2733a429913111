using OpenDllm.Attention;
using OpenDllm.Config;
using OpenDllm.Lora;
using OpenDllm.Models;
using OpenDllm.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Lora;

/// <summary>Tiny models, inputs and adapter helpers shared by the LoRA tests.</summary>
static class LoraTestModels
{
    public static readonly ModelConfig TinyConfig = ModelConfig.Tiny;

    public static Qwen2Model Tiny(long seed = 11) => new Qwen2Model(TinyConfig).InitializeWeights(seed);

    public static Tensor Tokens(long seed = 3, int batch = 2, int length = 12) =>
        randint(0, TinyConfig.VocabSize, [batch, length], generator: new Generator((ulong)seed), dtype: ScalarType.Int64);

    /// <summary>Bidirectional logits [B, L, V].</summary>
    public static Tensor Logits(Qwen2Model model, Tensor tokens) =>
        model.forward(new ModelInput(tokens, AttentionPolicy.Bidirectional)).Logits;

    /// <summary>Gives every B a seeded non-zero value (a fresh adapter has B = 0 and would change nothing).</summary>
    public static void RandomizeB(LoraAdapters adapters, long seed = 5, double std = 0.05)
    {
        using var noGrad = no_grad();
        using var generator = SeededDraws.ForSeed(seed);
        foreach (var (_, adapter) in adapters.Entries) SeededDraws.FillNormal(adapter.B, 0, std, generator);
    }

    /// <summary>Copies of every named parameter of <paramref name="module"/>.</summary>
    public static Dictionary<string, Tensor> Snapshot(nn.Module module) =>
        module.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
}

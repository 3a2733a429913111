using OpenDllm.Attention;
using OpenDllm.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Methods.A2d;

/// <summary>
/// The teacher of representation alignment (SPEC §3): a frozen copy of the student's initial weights, run causally on the
/// clean sequence under no grad. It is a separate model, not a module of the student, so it is never in the optimizer
/// and never in a checkpoint. Any <see cref="LanguageModel"/> can be the student (the AR checkpoints here are Qwen2).
/// </summary>
public sealed class FrozenTeacher : IDisposable
{
    readonly LanguageModel _model;

    FrozenTeacher(LanguageModel model) => _model = model;

    /// <summary>
    /// Copies <paramref name="student"/>'s current weights (call it before any training step, and before a resume loads a
    /// checkpoint: the teacher is the initial model) into a new model of the same config on the same device, in
    /// <paramref name="dtype"/>, with every parameter frozen and in eval mode. LoRA adapters are not modules of the model
    /// (they live in the projections' adapter slots), so a LoRA run's teacher is its base model without adapters.
    /// </summary>
    public static FrozenTeacher CopyOf(LanguageModel student, TeacherDtype dtype)
    {
        var source = student.state_dict();
        var device = source.Values.First().device;
        var storage = dtype == TeacherDtype.Bf16 ? ScalarType.BFloat16 : ScalarType.Float32;
        var model = student.NewOfSameArchitecture(device, storage);
        using (no_grad())
            foreach (var (name, target) in model.state_dict())
            {
                if (!source.TryGetValue(name, out var weight))
                    throw new InvalidOperationException($"teacher copy: the student has no tensor {name}");
                target.copy_(weight);
            }
        foreach (var p in model.parameters()) p.requires_grad = false;
        model.eval();
        return new FrozenTeacher(model);
    }

    /// <summary>The teacher's parameters (all frozen); for tests and memory accounting.</summary>
    public IEnumerable<Parameter> Parameters => _model.parameters();

    /// <summary>The dtype its weights are stored and computed in.</summary>
    public ScalarType Dtype => _model.HeadWeight.dtype;

    /// <summary>
    /// The HF hidden states (num_layers + 1 tensors [B, L, D]) of <paramref name="input"/> run causally, under no grad.
    /// The caller passes the clean tokens with the student's position ids, document ids and key padding.
    /// </summary>
    public IReadOnlyList<Tensor> HiddenStates(ModelInput input)
    {
        using var noGrad = no_grad();
        // up to the final norm only: the teacher's logits are never needed
        return _model.ForwardToHead(input with { Attention = AttentionPolicy.Causal, ReturnHiddenStates = true }).HiddenStates!;
    }

    public void Dispose() => _model.Dispose();
}

using static TorchSharp.torch;

namespace OpenDllm.Training;

/// <summary>
/// A training method that trains modules of its own around a frozen <see cref="ITrainingMethod.Model"/> (LDLM: a frozen
/// encoder LM and trained Perceiver/DiT modules, SPEC §6). The <see cref="Trainer"/> then optimises, saves, resumes and
/// health-checks <see cref="Trained"/> instead of the language model, which stays frozen and out of checkpoints.
/// </summary>
/// <remarks>
/// The trainer freezes the model (turns off <c>requires_grad</c> of every parameter after the method is built, and says so
/// in the run log) and keeps it in eval mode; a method need not freeze it. A trained parameter must not be one of the
/// model's (copy weights instead): the trainer refuses a shared one. <c>train.lora</c>, <c>train.freeze_layers</c> and a
/// <c>train.precision</c> other than fp32 are refused. See <c>TrainerModules.cs</c>.
/// </remarks>
public interface IModuleTrainingMethod : ITrainingMethod
{
    /// <summary>The modules the optimizer trains (their parameters that require grad); switched between train and eval
    /// mode by the trainer. The language model is not part of it.</summary>
    nn.Module Trained { get; }

    /// <summary>Writes the trained modules and any method state (e.g. an adaptive sampler's EMA) into a checkpoint folder
    /// that is being written (the trainer adds tokenizer, optimizer, trainer state and recipe).</summary>
    void Save(string directory);

    /// <summary>Restores exactly what <see cref="Save"/> wrote (an exact resume).</summary>
    void Load(string directory);

    /// <summary>Null when the trained weights are finite and a probe forward gives finite outputs; else what is wrong.</summary>
    string? CheckHealth();
}

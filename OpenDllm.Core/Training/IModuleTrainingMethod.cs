using static TorchSharp.torch;

namespace OpenDllm.Training;

/// <summary>
/// A training method that trains modules of its own around a frozen <see cref="ITrainingMethod.Model"/> (LDLM: a frozen
/// encoder LM and trained Perceiver/DiT modules, SPEC §6). The <see cref="Trainer"/> then optimises, saves, resumes and
/// health-checks <see cref="Trained"/> instead of the language model, which stays frozen and out of checkpoints.
/// </summary>
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

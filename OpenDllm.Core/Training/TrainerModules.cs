using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Training;

/// <summary>
/// What the trainer does differently for an <see cref="IModuleTrainingMethod"/> (LDLM, SPEC §6): the method's
/// <see cref="IModuleTrainingMethod.Trained"/> modules are optimised, switched to train mode, saved, resumed and
/// health-checked; the language model is frozen by the trainer (every parameter's <c>requires_grad</c> turned off, a note
/// in the run log), kept in eval mode (no dropout in a frozen encoder) and left out of checkpoints (the recipe rebuilds it).
/// </summary>
public sealed partial class Trainer
{
    /// <summary>The method as a module-training method, or null when it trains the language model itself.</summary>
    readonly IModuleTrainingMethod? _modules;

    /// <summary>Elements of the parameters the optimizer updates: the trained modules' for an <see cref="IModuleTrainingMethod"/>,
    /// the LoRA adapters' with <c>train.lora</c>, else the model's parameters that are not frozen.</summary>
    public long TrainedParameterCount => _trainable.Sum(p => p.numel());

    /// <summary>True when the method trains modules of its own around a frozen language model (<see cref="IModuleTrainingMethod"/>).</summary>
    public bool TrainsOwnModules => _modules is not null;

    /// <summary>
    /// Refuses the settings that do not apply to a module-training method (each a one-line error naming the key), freezes
    /// the language model and returns the trained modules' parameters that require grad (the optimizer's).
    /// </summary>
    /// <exception cref="ArgumentException"><c>train.lora</c>, <c>train.freeze_layers</c> or a precision other than fp32.</exception>
    /// <exception cref="InvalidOperationException">The trained modules have nothing to train, or share a parameter with the model.</exception>
    static List<Parameter> PrepareModules(IModuleTrainingMethod method, Recipe recipe, Models.LanguageModel model)
    {
        var t = recipe.Train;
        var name = method.Name;
        if (t.Lora is not null)
            throw new ArgumentException($"train.lora: method {name} trains its own modules around a frozen language model (the LM is frozen "
                + "anyway, and adapters on it would not be trained or saved); remove train.lora");
        if (t.FreezeLayers is not null)
            throw new ArgumentException($"train.freeze_layers = '{t.FreezeLayers}': method {name} trains its own modules around a frozen "
                + "language model (every LM weight is frozen anyway); remove train.freeze_layers");
        var precision = TrainingPrecisions.Resolve(t);
        if (precision != TrainingPrecision.Fp32)
            throw new ArgumentException($"train.precision = {precision.Name()}: method {name} trains its own modules around a frozen language "
                + "model, which the trainer supports in fp32 only; use train.precision = fp32");
        var trained = method.Trained.named_parameters().Where(p => p.parameter.requires_grad).ToList();
        if (trained.Count == 0)
            throw new InvalidOperationException($"method {name}: its trained modules have no parameter that requires grad; nothing to train");
        foreach (var p in model.parameters()) p.requires_grad = false;
        // a parameter shared with the model was frozen just now: it would silently stop training
        var shared = trained.Where(p => !p.parameter.requires_grad).Select(p => p.name).ToList();
        if (shared.Count > 0)
            throw new InvalidOperationException($"method {name}: trained parameter(s) {string.Join(", ", shared.Take(4))} are the frozen "
                + "language model's own; copy the weights into the trained modules instead of sharing them");
        model.eval();
        return trained.Select(p => p.parameter).ToList();
    }

    /// <summary>The log note of a module-training run: what is trained and what is frozen.</summary>
    string ModulesNote() =>
        $"method {_method.Name}: training its own modules ({TrainedParameterCount:N0} parameters); the language model "
        + $"({Model.ParameterCount:N0} parameters) is frozen (requires_grad off, eval mode) and not saved in checkpoints";

    /// <summary>Null when the trained modules' weights are finite and the method's probe passes; else what is wrong.</summary>
    string? ModulesHealth(IModuleTrainingMethod method)
    {
        var finite = stack(method.Trained.parameters().Select(p => p.isfinite().all()).ToArray()).all().item<bool>();
        return finite ? method.CheckHealth() : "a trained weight is NaN or infinite";
    }
}

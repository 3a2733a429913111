using OpenDllm.Lora;
using OpenDllm.Models;

namespace OpenDllm.Training;

/// <summary>
/// What the trainer does for <c>train.lora</c> (<see cref="LoraSection"/>), whatever the method: attach the adapters to
/// the built model (base frozen), save checkpoints as the merged model plus the adapter in PEFT layout, and resume by
/// checking that the recipe rebuilt the same frozen base and loading the adapter.
/// </summary>
public sealed class TrainerLora
{
    /// <summary>The adapter folder inside a checkpoint.</summary>
    public const string AdapterFolder = "adapter";

    TrainerLora(LoraAdapters adapters, string baseSha256) => (Adapters, BaseSha256) = (adapters, baseSha256);

    /// <summary>The adapters being trained.</summary>
    public LoraAdapters Adapters { get; }

    /// <summary>SHA-256 of the frozen base weights (<see cref="BaseWeights.Sha256"/>), recorded in every checkpoint.</summary>
    public string BaseSha256 { get; }

    /// <summary>Hashes the base, then attaches fresh adapters (seeded) and freezes the base.</summary>
    public static TrainerLora Attach(LanguageModel model, LoraOptions options)
    {
        var baseSha = BaseWeights.Sha256(model);
        try { return new TrainerLora(LoraAdapters.Attach(model, options), baseSha); }
        catch (ArgumentException e) { throw new ArgumentException($"train.lora: {e.Message}", e); }
    }

    /// <summary>
    /// Writes the merged model (config, weights: a plain Hugging Face directory for sample and eval) into
    /// <paramref name="directory"/> and the adapter (PEFT layout) into its <see cref="AdapterFolder"/>.
    /// </summary>
    public void Save(LanguageModel model, string directory, string? baseModel)
    {
        using (Adapters.MergedScope()) model.SavePretrained(directory);
        PeftAdapterIO.Save(Adapters, Path.Combine(directory, AdapterFolder), baseModel);
    }

    /// <summary>Loads a checkpoint's adapter after checking that this run's frozen base is the one it was trained on.</summary>
    internal static void Resume(TrainerLora? lora, TrainerState state, string checkpoint)
    {
        if (lora is null)
            throw new InvalidDataException($"{checkpoint}: this run trained LoRA adapters (train.lora), the recipe has none; "
                + "add the same train.lora or choose another train.output_dir");
        if (state.LoraBaseSha256 is null)
            throw new InvalidDataException($"{checkpoint}: this run trained every weight, the recipe asks for train.lora; "
                + $"choose another train.output_dir (or start LoRA from these weights with model.init_from={checkpoint})");
        if (state.LoraBaseSha256 != lora.BaseSha256)
            throw new InvalidDataException($"{checkpoint}: the frozen base weights differ from those the adapter was trained on "
                + $"(sha256 {state.LoraBaseSha256[..12]}… vs {lora.BaseSha256[..12]}…: model.init_from or the model settings changed); "
                + "an exact resume needs the same base");
        PeftAdapterIO.LoadWeightsInto(lora.Adapters, Path.Combine(checkpoint, AdapterFolder));
    }
}

using OpenDllm.Models;
using OpenDllm.Tokenization;
using static TorchSharp.torch;

namespace OpenDllm.Lora;

/// <summary>Base checkpoint + PEFT adapter → one plain Hugging Face checkpoint with W ← W + (α/r)·B·A on every adapted projection.</summary>
public static class LoraMerge
{
    /// <summary>
    /// Loads <paramref name="baseDirectory"/> (float32), applies the adapter in <paramref name="adapterDirectory"/>, folds it
    /// in (<see cref="LoraAdapters.MergeIntoBase"/>) and saves config, weights (as <paramref name="dtype"/>, default the
    /// base's float32 copy) and the base's tokenizer to <paramref name="outputDirectory"/>. The caller checks that the output
    /// does not overwrite an input (<see cref="IO.OutputGuard"/>). Returns the merged model's parameter count.
    /// </summary>
    public static long Run(string baseDirectory, string adapterDirectory, string outputDirectory, ScalarType? dtype = null)
    {
        using var model = Qwen2Model.FromPretrained(baseDirectory, CPU, ScalarType.Float32);
        var tokenizer = Tokenizers.Load(baseDirectory, model.Config.VocabSize);
        using (var adapters = PeftAdapterIO.Load(model, adapterDirectory))
            adapters.MergeIntoBase();
        model.SavePretrained(outputDirectory, dtype);
        tokenizer.Save(outputDirectory);
        return model.ParameterCount;
    }
}

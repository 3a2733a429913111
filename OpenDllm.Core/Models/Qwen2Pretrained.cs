using OpenDllm.Checkpoints;
using OpenDllm.Config;
using static TorchSharp.torch;

namespace OpenDllm.Models;

public sealed partial class Qwen2Model
{
    const string TiedHeadKey = "lm_head.weight";

    /// <summary>
    /// Loads a Hugging Face model directory: <c>config.json</c> plus <c>model.safetensors</c> or a sharded
    /// <c>model.safetensors.index.json</c>. Strict: missing, unexpected or mis-shaped tensors throw
    /// <see cref="CheckpointMismatchException"/> listing them. A tied model ignores a stray <c>lm_head.weight</c>.
    /// Weights are converted to <paramref name="dtype"/> (default float32; bf16 → fp32 is exact).
    /// </summary>
    public static Qwen2Model FromPretrained(string directory, Device? device = null, ScalarType? dtype = null)
    {
        var config = ModelConfig.Load(directory);
        var model = new Qwen2Model(config, device, dtype ?? ScalarType.Float32);
        StateDictIO.Load(model, directory, new StateDictLoadOptions
        {
            IgnoredCheckpointKeys = config.TieWordEmbeddings ? [TiedHeadKey] : [],
        });
        return model;
    }

    /// <summary>
    /// Writes <c>config.json</c> and the weights as Hugging Face does (a tied head is not in the state dict, so it is
    /// omitted), optionally as <paramref name="dtype"/> (e.g. bfloat16) and sharded above <paramref name="maxShardBytes"/>.
    /// </summary>
    public void SavePretrained(string directory, ScalarType? dtype = null, long? maxShardBytes = null)
    {
        var config = dtype is { } d ? Config with { TorchDtype = DtypeName(d) } : Config;
        StateDictIO.Save(this, directory, new StateDictSaveOptions { DType = dtype, MaxShardBytes = maxShardBytes });
        config.Save(directory);
    }

    static string DtypeName(ScalarType dtype) => dtype switch
    {
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        ScalarType.Float32 => "float32",
        ScalarType.Float64 => "float64",
        _ => dtype.ToString().ToLowerInvariant(),
    };
}

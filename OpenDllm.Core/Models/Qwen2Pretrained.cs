using OpenDllm.Checkpoints;
using OpenDllm.Config;
using static TorchSharp.torch;

namespace OpenDllm.Models;

public sealed partial class Qwen2Model
{
    const string TiedHeadKey = "lm_head.weight";

    /// <summary>
    /// Loads a Hugging Face model directory: <c>config.json</c> (transformers 4.x or 5.x layout, see
    /// <see cref="ModelConfig.Load"/>) plus <c>model.safetensors</c> or a sharded <c>model.safetensors.index.json</c>.
    /// In order, before anything large is allocated: the config is validated, then compared with the safetensors headers
    /// (<see cref="Qwen2CheckpointShapes.Check"/>: a mismatch throws <see cref="CheckpointMismatchException"/> naming the
    /// config fields at fault). Then the model is built and filled, strictly; weights are converted to
    /// <paramref name="dtype"/> (default float32; bf16 → fp32 is exact, as <c>from_pretrained(torch_dtype=float32)</c>),
    /// and a NaN or infinite weight is an error naming the tensor. A tied model accepts a stray <c>lm_head.weight</c> only
    /// when it equals the embeddings (transformers 4.x would drop it, 5.x would use it).
    /// </summary>
    public static Qwen2Model FromPretrained(string directory, Device? device = null, ScalarType? dtype = null)
    {
        var config = ModelConfig.Load(directory);
        var configFile = Directory.Exists(directory) ? Path.Combine(directory, "config.json") : directory;
        using (var checkpoint = SafetensorsCheckpoint.Open(directory))
            Qwen2CheckpointShapes.Check(config, checkpoint, configFile);
        var model = new Qwen2Model(config, device, dtype ?? ScalarType.Float32);
        try
        {
            StateDictIO.Load(model, directory, new StateDictLoadOptions
            {
                IgnoredCheckpointKeys = config.TieWordEmbeddings ? [TiedHeadKey] : [],
            });
            if (config.TieWordEmbeddings) model.CheckStrayTiedHead(directory);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>A tied model whose file still carries <c>lm_head.weight</c>: fine when it is the embedding matrix.</summary>
    void CheckStrayTiedHead(string directory)
    {
        using var checkpoint = SafetensorsCheckpoint.Open(directory);
        if (!checkpoint.Contains(TiedHeadKey)) return;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var embedding = _model.EmbedTokens.weight!;
        var head = checkpoint.Read(TiedHeadKey, embedding.dtype, embedding.device);
        if (head.shape.SequenceEqual(embedding.shape) && head.eq(embedding).all().item<bool>()) return;
        var difference = head.shape.SequenceEqual(embedding.shape)
            ? $"max |Δ| = {(head - embedding).abs().max().to(ScalarType.Float64).item<double>():G3}"
            : $"shape {SafetensorsEntry.FormatShape(head.shape)} against {SafetensorsEntry.FormatShape(embedding.shape)}";
        throw new InvalidDataException(
            $"{checkpoint.Directory}: tie_word_embeddings is true, but the checkpoint's {TiedHeadKey} differs from model.embed_tokens.weight "
            + $"({difference}): transformers 4.x would use the embeddings, 5.x the file's head. Set tie_word_embeddings to false to use "
            + $"{TiedHeadKey}, or remove it from the checkpoint");
    }

    /// <summary>
    /// Writes <c>config.json</c> and the weights as Hugging Face does (a tied head is not in the state dict, so it is
    /// omitted), optionally as <paramref name="dtype"/> (e.g. bfloat16) and sharded above <paramref name="maxShardBytes"/>.
    /// The config's <c>torch_dtype</c> (and <c>dtype</c>, when the file had it) names the dtype actually written: the
    /// parameters' own dtype when <paramref name="dtype"/> is null, so a bf16 model is never labelled float32.
    /// </summary>
    public void SavePretrained(string directory, ScalarType? dtype = null, long? maxShardBytes = null)
    {
        var d = dtype ?? HeadWeight.dtype;
        var config = Config with { TorchDtype = DtypeName(d), Dtype = Config.Dtype is null ? null : DtypeName(d) };
        StateDictIO.Save(this, directory, new StateDictSaveOptions { DType = dtype, MaxShardBytes = maxShardBytes });
        config.Save(directory);
    }

    /// <summary>Writes <c>config.json</c> and the weights in the parameters' dtype, unsharded (see the overload).</summary>
    public override void SavePretrained(string directory) => SavePretrained(directory, dtype: null);

    static string DtypeName(ScalarType dtype) => dtype switch
    {
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        ScalarType.Float32 => "float32",
        ScalarType.Float64 => "float64",
        _ => dtype.ToString().ToLowerInvariant(),
    };
}

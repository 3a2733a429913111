using OpenDllm.Modules;
using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Models.Bert;

/// <summary>
/// HF <c>cls.predictions.transform</c>: <c>t = LayerNorm(GELU(h·W_tᵀ + b_t))</c>, [.., D] → [.., D]. Names:
/// <c>dense.{weight,bias}</c>, <c>LayerNorm.{weight,bias}</c>.
/// </summary>
public sealed class BertPredictionHeadTransform : nn.Module<Tensor, Tensor>, IComputeDtype
{
    [ComponentName(Name = "dense")] internal readonly Linear Dense;
    [ComponentName(Name = "LayerNorm")] internal readonly LayerNorm Norm;

    public BertPredictionHeadTransform(BertConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(BertPredictionHeadTransform))
    {
        Dense = nn.Linear(config.HiddenSize, config.HiddenSize, device: device, dtype: dtype);
        Norm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public ScalarType? ComputeDtype { get; set; }

    public override Tensor forward(Tensor h) =>
        BertPrecision.Norm(Norm, nn.functional.gelu(ComputePrecision.Linear(Dense, h, ComputeDtype)), ComputeDtype);
}

/// <summary>
/// HF <c>cls.predictions</c>: the transform and the decoder bias <c>bias</c> [V]; the decoder weight is the word embedding
/// matrix (tied), so logits = <c>t·W_wordᵀ + bias</c>.
/// </summary>
public sealed class BertLMPredictionHead : nn.Module
{
    [ComponentName(Name = "transform")] internal readonly BertPredictionHeadTransform Transform;
    [ComponentName(Name = "bias")] internal readonly Parameter Bias;

    public BertLMPredictionHead(BertConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(BertLMPredictionHead))
    {
        Transform = new BertPredictionHeadTransform(config, device, dtype);
        Bias = nn.Parameter(zeros(config.VocabSize, dtype: dtype ?? ScalarType.Float32, device: device).DetachFromDisposeScope());
        Bias.DetachFromDisposeScope();
        RegisterComponents();
    }
}

/// <summary>HF <c>cls</c> (BertOnlyMLMHead): holds <c>predictions</c>.</summary>
public sealed class BertOnlyMlmHead : nn.Module
{
    [ComponentName(Name = "predictions")] internal readonly BertLMPredictionHead Predictions;

    public BertOnlyMlmHead(BertConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(BertOnlyMlmHead))
    {
        Predictions = new BertLMPredictionHead(config, device, dtype);
        RegisterComponents();
    }
}

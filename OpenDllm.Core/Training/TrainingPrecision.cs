using OpenDllm.Checkpoints;
using OpenDllm.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Training;

/// <summary>How a model is stored and computed during training (<c>train.precision</c>).</summary>
public enum TrainingPrecision
{
    /// <summary>float32 weights, gradients, AdamW state and arithmetic.</summary>
    Fp32,
    /// <summary>
    /// float32 master weights, gradients and AdamW state; forward and backward in bfloat16 (weights cast at use, see
    /// <see cref="LanguageModel.ComputeDtype"/>). No loss scaling: bf16 has float32's exponent range, so small gradients do not
    /// underflow the way they do in fp16 (PyTorch's GradScaler exists for fp16).
    /// </summary>
    Bf16Mixed,
    /// <summary>
    /// Everything in bfloat16, AdamW state included. An update smaller than half a bf16 ulp of its weight (2⁻⁹ to 2⁻⁸
    /// of |w|; e.g. lr 3e-6 on a weight of 1) rounds back to the old value and is lost.
    /// </summary>
    Bf16,
}

/// <summary>Parses, resolves and applies <see cref="TrainingPrecision"/>.</summary>
public static class TrainingPrecisions
{
    /// <summary>The recipe spellings, in <see cref="TrainingPrecision"/> order.</summary>
    public static readonly IReadOnlyList<string> Names = ["fp32", "bf16_mixed", "bf16"];

    public static string Name(this TrainingPrecision precision) => Names[(int)precision];

    /// <summary>The precision spelled <paramref name="name"/>; the error names <paramref name="key"/> and lists the valid ones.</summary>
    public static TrainingPrecision Parse(string name, string key = "precision")
    {
        int i = Names.ToList().IndexOf(name);
        return i >= 0 ? (TrainingPrecision)i
            : throw new ArgumentException($"{key} = {name} is not a precision; valid: {string.Join(", ", Names)}");
    }

    /// <summary>One line for the start of a run: what is stored in which dtype and what computes in which.</summary>
    public static string Describe(this TrainingPrecision precision) => precision switch
    {
        TrainingPrecision.Fp32 => "fp32 (float32 weights, AdamW state and compute)",
        TrainingPrecision.Bf16Mixed => "bf16_mixed (float32 master weights and AdamW state, bfloat16 forward/backward)",
        _ => "bf16 (pure bfloat16: weights, AdamW state and compute; small updates are rounded away)",
    };

    /// <summary>
    /// The precision of a train section. <c>train.precision</c> wins; the older <c>train.dtype</c> is still read:
    /// <c>float32</c> means fp32, and <c>bfloat16</c> alone is refused, because it used to mean pure bf16 and the better
    /// choice is now bf16_mixed: the user picks (see README "Precision"). Neither key: fp32.
    /// </summary>
    public static TrainingPrecision Resolve(TrainSection train)
    {
        if (train.Precision is { } name) return Parse(name, "train.precision");
        return train.Dtype switch
        {
            null or "float32" => TrainingPrecision.Fp32,
            "bfloat16" => throw new ArgumentException("train.dtype = bfloat16 is ambiguous now: set train.precision to bf16_mixed "
                + "(float32 master weights and AdamW state, bfloat16 compute; recommended) or bf16 (pure bfloat16, what train.dtype = "
                + "bfloat16 used to do; updates below bf16 resolution are lost), and remove train.dtype"),
            _ => throw new ArgumentException($"train.dtype = {train.Dtype} is not valid; use train.precision: {string.Join(" | ", Names)}"),
        };
    }

    /// <summary>
    /// Sets <paramref name="model"/> (float32 as built) up for <paramref name="precision"/>: nothing for fp32, a bf16
    /// compute dtype for bf16_mixed (parameters stay float32), all parameters cast to bf16 for bf16.
    /// </summary>
    public static TModel Apply<TModel>(TModel model, TrainingPrecision precision) where TModel : LanguageModel
    {
        switch (precision)
        {
            case TrainingPrecision.Fp32: model.ComputeDtype = null; break;
            case TrainingPrecision.Bf16Mixed: model.ComputeDtype = ScalarType.BFloat16; break;
            default: model.ComputeDtype = null; model.to(ScalarType.BFloat16); break;
        }
        return model;
    }

    /// <summary>The dtype parameters, gradients and AdamW state are stored in under <paramref name="precision"/>.</summary>
    public static ScalarType StorageDtype(this TrainingPrecision precision) =>
        precision == TrainingPrecision.Bf16 ? ScalarType.BFloat16 : ScalarType.Float32;

    /// <summary>
    /// Refuses to resume <paramref name="checkpoint"/> when its weights (and so its AdamW state) are stored in another dtype
    /// than <paramref name="precision"/> keeps them in: pure bf16 ↔ fp32 / bf16_mixed. fp32 ↔ bf16_mixed share float32
    /// masters and state, so a run may switch between them.
    /// </summary>
    public static void EnsureResumable(string checkpoint, TrainingPrecision precision)
    {
        using var file = SafetensorsCheckpoint.Open(checkpoint);
        var name = file.Names.FirstOrDefault(n => n.EndsWith("norm.weight", StringComparison.Ordinal)) ?? file.Names.First();
        var stored = file.GetEntry(name).DType.ToScalarType();
        if (stored != precision.StorageDtype())
            throw new InvalidDataException($"{checkpoint}: its weights are {stored.ToString().ToLowerInvariant()} but train.precision = "
                + $"{precision.Name()} keeps them (and the AdamW state) in {precision.StorageDtype().ToString().ToLowerInvariant()}; "
                + $"resume with train.precision = {(stored == ScalarType.BFloat16 ? "bf16" : "fp32 or bf16_mixed")} or choose another train.output_dir");
    }
}

using System.Text.Json.Serialization;

namespace OpenDllm.Methods.A2d;

/// <summary>The dtype the frozen teacher of <see cref="A2dMethod"/> is held in (<c>train.a2d.teacher_dtype</c>).</summary>
public enum TeacherDtype
{
    /// <summary>float32 weights and compute (default).</summary>
    [JsonStringEnumMemberName("fp32")] Fp32,
    /// <summary>bfloat16 weights and compute: half the teacher's memory; its hidden states are compared in float32.</summary>
    [JsonStringEnumMemberName("bf16")] Bf16,
}

/// <summary>
/// The options of AR → diffusion adaptation (<c>train.a2d</c> in a recipe; SPEC §3). Bound strictly (unknown keys fail)
/// and checked by <see cref="Validate"/> with the dotted key named.
/// </summary>
public sealed record A2dOptions
{
    /// <summary>λ of L = L_MDM + λ·L_align (Open-dLLM's <c>repr_align_wt</c>; the paper uses 10). 0 (default) builds no
    /// teacher and trains exactly as <c>objective: mdlm</c>.</summary>
    public double AlignWeight { get; init; }

    /// <summary>The frozen teacher's dtype: fp32 (default) or bf16 ("can be held in bf16 to save memory").</summary>
    public TeacherDtype TeacherDtype { get; init; } = TeacherDtype.Fp32;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first bad key (prefixed by <paramref name="key"/>).</summary>
    public A2dOptions Validate(string source = "recipe", string key = "train.a2d")
    {
        void Check(bool ok, string name, object? value, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException($"{key}.{name}", value, $"{source}: {key}.{name} = {value ?? "null"} is out of range: {rule}");
        }
        Check(AlignWeight >= 0 && double.IsFinite(AlignWeight), "align_weight", AlignWeight, "finite and ≥ 0 (0 = plain MDLM, the paper uses 10)");
        Check(Enum.IsDefined(TeacherDtype), "teacher_dtype", TeacherDtype, "fp32 or bf16");
        return this;
    }
}

using OpenDllm.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Modules;

/// <summary>
/// Root-mean-square layer norm as in Qwen2: <c>y = w ⊙ cast(x_f32 · rsqrt(mean(x_f32²) + ε))</c>, computed in float32 and
/// cast back to the input dtype before the weight is applied (Zhang &amp; Sennrich 2019, <see href="https://arxiv.org/abs/1910.07467"/>).
/// With a <see cref="ComputeDtype"/> (mixed precision) the weight is applied in float32 too, <c>y = cast(w ⊙ x_f32 · rsqrt(…))</c>,
/// and only the result is cast to the compute dtype: one rounding, and the weight's gradient is computed in float32.
/// </summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>, IComputeDtype
{
    readonly Parameter weight;
    readonly double _eps;
    /// <summary>
    /// ε as a native scalar held for the module's lifetime. An implicit <c>tensor + double</c> creates a temporary
    /// <see cref="Scalar"/> that nothing references during the native call, so a GC on another thread can finalize it
    /// mid-call (seen as "INTERNAL ASSERT FAILED at c10/core/Scalar.h" under load; dotnet/TorchSharp#1434, #1496).
    /// </summary>
    readonly Scalar _epsScalar;

    public RmsNorm(long dim, double eps, Device? device = null, ScalarType? dtype = null) : base(nameof(RmsNorm))
    {
        // Detached from any enclosing dispose scope: a module built inside a scope must outlive it (TorchSharp's own
        // modules do the same for their parameters).
        weight = nn.Parameter(ones(dim, dtype: dtype ?? ScalarType.Float32, device: device).DetachFromDisposeScope());
        weight.DetachFromDisposeScope();
        _eps = eps;
        _epsScalar = eps.ToScalar();
        RegisterComponents();
    }

    public Parameter Weight => weight;

    /// <inheritdoc/>
    public ScalarType? ComputeDtype { get; set; }

    /// <remarks>No dispose scope of its own: the model's forward scope owns the temporaries (fewer native calls per step).</remarks>
    public override Tensor forward(Tensor x)
    {
        var h = x.dtype == ScalarType.Float32 ? x : x.to(ScalarType.Float32);
        h = h * (h * h).mean([-1], keepdim: true).add(_epsScalar, ScalarOps.One).rsqrt();   // x·x, not square(); add(s) alone makes an unheld alpha
        if (ComputeDtype is { } compute) return ComputePrecision.Cast(ComputePrecision.Cast(weight, ScalarType.Float32) * h, compute);
        return weight * (x.dtype == ScalarType.Float32 ? h : h.to(x.dtype));
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _epsScalar.Dispose();
        base.Dispose(disposing);
    }
}

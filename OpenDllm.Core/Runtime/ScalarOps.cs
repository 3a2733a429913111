using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Runtime;

/// <summary>
/// Tensor–number arithmetic that keeps its <see cref="Scalar"/> alive for the whole native call, for per-step paths
/// (optimizer, losses, samplers). Why: in TorchSharp 0.107 every <c>t * 0.5</c>, <c>t.mul_(β)</c>,
/// <c>t.add_(g, alpha: a)</c> and even <c>a + b</c> (alpha = 1) converts the number to a <see cref="Scalar"/> that nobody
/// disposes and that no dispose scope tracks; only its finalizer frees the native <c>c10::Scalar</c>. Once TorchSharp has
/// read <c>scalar.Handle</c> for the P/Invoke, the managed object is unreachable, so a GC on another thread during the
/// native call can finalize it and libtorch reads freed memory: "Unknown scalar type" or a c10 <c>Scalar.h</c> check in
/// <c>add_</c>/<c>mul_</c>/<c>toDouble</c>, rarely, under load. Each method here creates the Scalar in a <c>using</c>, so
/// it is reachable until after the call and then freed at once (docs/torchsharp-scalars.md; <c>opendllm bench scalars</c>
/// measures the race). Values, dtypes and type promotion are those of the implicit conversion (a float64 Scalar for a
/// number, the integer 1 for a plain sum's alpha), so results are bit-identical.
/// Only ops with a <see cref="Scalar"/> overload make Scalars: a number passed where TorchSharp takes only a Tensor
/// (<c>torch.where(c, x, 0f)</c>, <c>torch.pow(θ, t)</c>) becomes a scalar Tensor that dispose scopes do track, and handing
/// such an op a Scalar throws TorchSharp's "Should not be called".
/// </summary>
public static class ScalarOps
{
    /// <summary>−∞ as a float64 Scalar that lives as long as the process (a static root is never finalized): for
    /// <c>masked_fill(mask, ScalarOps.NegativeInfinity)</c> at no cost per call.</summary>
    public static readonly Scalar NegativeInfinity = double.NegativeInfinity.ToScalar();

    /// <summary>+∞ as a float64 Scalar that lives as long as the process.</summary>
    public static readonly Scalar PositiveInfinity = double.PositiveInfinity.ToScalar();

    /// <summary>The integer 1 as a Scalar that lives as long as the process: the alpha that <c>x.add(s)</c> would otherwise
    /// create as an unheld temporary (TorchSharp's <c>add(Scalar)</c> is <c>add(s, 1)</c>), so write <c>x.add(s, ScalarOps.One)</c>.</summary>
    public static readonly Scalar One = 1.ToScalar();

    /// <summary>
    /// Runs <paramref name="op"/> with <paramref name="value"/> as a Scalar that lives until <paramref name="op"/> returns,
    /// then frees it: <c>ScalarOps.With(0.5, s =&gt; x.clamp_min(s))</c> for ops without a helper below.
    /// </summary>
    public static Tensor With(double value, Func<Scalar, Tensor> op)
    {
        using var scalar = value.ToScalar();
        var result = op(scalar);
        GC.KeepAlive(scalar);
        return result;
    }

    /// <summary>x · c (a new tensor; what <c>x * c</c> computes).</summary>
    public static Tensor MulScalar(this Tensor x, double c)
    {
        using var s = c.ToScalar();
        var result = x.mul(s);
        GC.KeepAlive(s);
        return result;
    }

    /// <summary>x ← x · c in place (what <c>x.mul_(c)</c> computes).</summary>
    public static Tensor MulScalar_(this Tensor x, double c)
    {
        using var s = c.ToScalar();
        x.mul_(s);
        GC.KeepAlive(s);
        return x;
    }

    /// <summary>x / c (a new tensor; what <c>x / c</c> computes).</summary>
    public static Tensor DivScalar(this Tensor x, double c)
    {
        using var s = c.ToScalar();
        var result = x.div(s);
        GC.KeepAlive(s);
        return result;
    }

    /// <summary>x + c (a new tensor; what <c>x + c</c> computes).</summary>
    public static Tensor AddScalar(this Tensor x, double c)
    {
        using var s = c.ToScalar();
        using var one = 1.ToScalar();
        var result = x.add(s, one);
        GC.KeepAlive(s); GC.KeepAlive(one);
        return result;
    }

    /// <summary>x ← x + c in place (what <c>x.add_(c)</c> computes).</summary>
    public static Tensor AddScalar_(this Tensor x, double c)
    {
        using var s = c.ToScalar();
        using var one = 1.ToScalar();
        x.add_(s, one);
        GC.KeepAlive(s); GC.KeepAlive(one);
        return x;
    }

    /// <summary>x + α·y (a new tensor; what <c>x.add(y, alpha: α)</c> computes, and <c>x + y</c> for α = 1).</summary>
    public static Tensor AddScaled(this Tensor x, Tensor y, double alpha = 1)
    {
        using var s = ScalarOf(alpha);
        var result = x.add(y, s);
        GC.KeepAlive(s);
        return result;
    }

    /// <summary>x ← x + α·y in place (what <c>x.add_(y, alpha: α)</c> computes, and <c>x.add_(y)</c> for α = 1).</summary>
    public static Tensor AddScaled_(this Tensor x, Tensor y, double alpha = 1)
    {
        using var s = ScalarOf(alpha);
        x.add_(y, s);
        GC.KeepAlive(s);
        return x;
    }

    /// <summary>x ← x + c·(a ⊙ b) in place (what <c>x.addcmul_(a, b, value: c)</c> computes).</summary>
    public static Tensor AddcmulScalar_(this Tensor x, Tensor a, Tensor b, double c)
    {
        using var s = c.ToScalar();
        x.addcmul_(a, b, s);
        GC.KeepAlive(s);
        return x;
    }

    /// <summary>x ← x + c·(a ⊘ b) in place (what <c>x.addcdiv_(a, b, value: c)</c> computes).</summary>
    public static Tensor AddcdivScalar_(this Tensor x, Tensor a, Tensor b, double c)
    {
        using var s = c.ToScalar();
        x.addcdiv_(a, b, s);
        GC.KeepAlive(s);
        return x;
    }

    /// <summary>c − x (a new tensor; what <c>c - x</c> computes, as −x + c).</summary>
    public static Tensor RSubScalar(this Tensor x, double c) => x.neg().AddScalar_(c);

    /// <summary>max(x, lo) (a new tensor; what <c>x.clamp_min(lo)</c> computes).</summary>
    public static Tensor ClampMinScalar(this Tensor x, double lo)
    {
        using var s = lo.ToScalar();
        var result = x.clamp_min(s);
        GC.KeepAlive(s);
        return result;
    }

    /// <summary>x with <paramref name="value"/> where <paramref name="mask"/> is true (what <c>x.masked_fill(mask, value)</c>
    /// computes for an integer value, e.g. a token id).</summary>
    public static Tensor MaskedFillScalar(this Tensor x, Tensor mask, long value)
    {
        using var s = value.ToScalar();
        var result = x.masked_fill(mask, s);
        GC.KeepAlive(s);
        return result;
    }

    /// <summary>x clamped to [lo, hi] (a new tensor; what <c>x.clamp(lo, hi)</c> computes).</summary>
    public static Tensor ClampScalar(this Tensor x, double lo, double hi)
    {
        using var min = lo.ToScalar();
        using var max = hi.ToScalar();
        var result = x.clamp(min, max);
        GC.KeepAlive(min); GC.KeepAlive(max);
        return result;
    }

    /// <summary>
    /// α as TorchSharp's implicit conversion would make it for <c>add</c>'s alpha: the integer 1 (int64 Scalar) for the
    /// plain sum <c>x + y</c>, so integer tensors keep adding exactly as before, otherwise a float64 Scalar.
    /// </summary>
    static Scalar ScalarOf(double alpha) => alpha == 1 ? 1L.ToScalar() : alpha.ToScalar();
}

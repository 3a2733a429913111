using OpenDllm.Modules;
using OpenDllm.Sampling;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace OpenDllm.Lora;

/// <summary>
/// One LoRA adapter on one projection (see <see cref="LoraOptions"/>): Δ(x) = s·B·A·dropout(x), s = α/r, with
/// <c>lora_A</c> [r, in] and <c>lora_B</c> [out, r] as PEFT names and shapes them. Created with B = 0, so a new adapter
/// leaves the model's outputs unchanged, and A ~ U(−1/√in, 1/√in), which is PyTorch's kaiming-uniform with a = √5 (PEFT's
/// default: gain √(2/(1 + a²)) = 1/√3, bound gain·√(3/in)), drawn on the CPU from the set's generator.
/// </summary>
public sealed class LoraAdapter : nn.Module, ILinearAdapter
{
    [ComponentName(Name = "lora_A")] readonly Linear _a;
    [ComponentName(Name = "lora_B")] readonly Linear _b;
    readonly LoraDropout _dropout;

    internal LoraAdapter(long inFeatures, long outFeatures, int rank, double scaling, LoraDropout dropout,
                         Generator init, Device device, ScalarType dtype) : base(nameof(LoraAdapter))
    {
        Rank = rank;
        Scaling = scaling;
        _dropout = dropout;
        _a = nn.Linear(inFeatures, rank, hasBias: false, device: device, dtype: dtype);
        _b = nn.Linear(rank, outFeatures, hasBias: false, device: device, dtype: dtype);
        RegisterComponents();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        double bound = 1.0 / Math.Sqrt(inFeatures);
        var u = SeededDraws.Uniform([rank, inFeatures], init, device, ScalarType.Float64);
        _a.weight!.copy_((u * (2 * bound) - bound).to(dtype));
        _b.weight!.zero_();
    }

    /// <summary>r.</summary>
    public int Rank { get; }

    /// <summary>s = α/r.</summary>
    public double Scaling { get; }

    /// <summary>A [r, in] (PEFT's <c>lora_A.weight</c>).</summary>
    public Parameter A => _a.weight!;

    /// <summary>B [out, r] (PEFT's <c>lora_B.weight</c>).</summary>
    public Parameter B => _b.weight!;

    /// <summary>
    /// y + s·(dropout(x)·Aᵀ)·Bᵀ, with the sum formed in place in <paramref name="y"/> (<c>addmm_</c> on [N, out] views)
    /// and the scale s (and dropout's 1/(1 − p)) applied to the small [N, r] product, so the adapter adds only its
    /// [N, r] activations (plus the dropped input in training) to what the forward keeps.
    /// </summary>
    public Tensor AddTo(Tensor y, Tensor x, ScalarType? computeDtype, bool training)
    {
        var (input, keepScale) = training ? _dropout.Apply(x) : (x, 1.0);
        // an explicit Scalar held through the call: an implicit one can be finalized mid-call (see RmsNorm)
        using var factor = (Scaling * keepScale).ToScalar();
        var hidden = ComputePrecision.Linear(_a, input, computeDtype).mul(factor);               // [.., r]
        var b = ComputePrecision.Cast(B, computeDtype);                                         // [out, r]
        long r = hidden.shape[^1];
        y.view(-1, y.shape[^1]).addmm_(hidden.reshape(-1, r), b.t());                           // y += h·Bᵀ, in place
        return y;
    }

    /// <summary>The dense update s·B·A [out, in] in float64 (what <see cref="LoraAdapters.MergeIntoBase"/> adds to W).</summary>
    public Tensor DenseUpdate()
    {
        using var scale = Scaling.ToScalar();
        return matmul(B.detach().to(ScalarType.Float64), A.detach().to(ScalarType.Float64)).mul(scale);
    }
}

/// <summary>
/// Inverted dropout for adapter inputs, with masks drawn on the CPU from a seeded generator (<see cref="SeededDraws"/>), so a
/// seed gives the same masks on every device. <see cref="Reseed"/> lets a trainer tie the masks to the step number, which
/// makes a resumed run draw what the uninterrupted run drew.
/// </summary>
public sealed class LoraDropout : IDisposable
{
    readonly Generator _generator;
    readonly long _seed;

    public LoraDropout(double probability, long seed)
    {
        Probability = probability;
        _seed = seed;
        _generator = SeededDraws.ForSeed(seed);
    }

    /// <summary>p.</summary>
    public double Probability { get; }

    /// <summary>Restarts the masks from a seed derived from the set's seed and <paramref name="step"/>.</summary>
    public void Reseed(long step) => _generator.manual_seed((long)Mix((ulong)_seed, (ulong)step));

    /// <summary>A fixed (process-independent) mix of two numbers: SplitMix64 of seed ⊕ SplitMix64(step).</summary>
    static ulong Mix(ulong seed, ulong step)
    {
        static ulong SplitMix(ulong z)
        {
            z += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
        return SplitMix(seed ^ SplitMix(step)) >> 1;   // below 2⁶³: libtorch seeds are read as uint64 but kept positive here
    }

    /// <summary>
    /// x·m with m ~ Bernoulli(1 − p) per element, and the factor 1/(1 − p) that inverted dropout applies to the kept
    /// elements, for the caller to apply after its (linear) next step; (x, 1) when p = 0.
    /// </summary>
    public (Tensor Dropped, double Scale) Apply(Tensor x)
    {
        if (Probability == 0) return (x, 1.0);
        using var u = SeededDraws.Uniform(x.shape, _generator, x.device, ScalarType.Float32);
        using var p = Probability.ToScalar();
        using var zero = 0.0.ToScalar();
        var drop = u.lt(p);                                             // bool: autograd keeps 1 byte per element, not a float mask
        return (x.masked_fill(drop, zero), 1.0 / (1.0 - Probability));
    }

    public void Dispose() => _generator.Dispose();
}

using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Modules.Dit;

/// <summary>
/// The DiT timestep embedding (Peebles &amp; Xie 2023, <see href="https://arxiv.org/abs/2212.09748"/>), for continuous
/// t ∈ [0, 1] (SPEC §6.4's time): with s = 1000·t (DiT embeds integer steps 0…999, so the scale keeps its frequency range
/// meaningful) and F/2 frequencies ω_i = 10000^(−i/(F/2)), i = 0 … F/2 − 1,
/// <code>
/// φ(t) = [cos(s·ω_0), …, cos(s·ω_{F/2−1}), sin(s·ω_0), …, sin(s·ω_{F/2−1})]     (F features)
/// c = W₂·SiLU(W₁·φ(t) + b₁) + b₂                                               (width)
/// </code>
/// Parameter names: <c>fc1</c>, <c>fc2</c>.
/// </summary>
public sealed class TimestepEmbedding : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "fc1")] readonly Linear _fc1;
    [ComponentName(Name = "fc2")] readonly Linear _fc2;
    readonly float[] _frequencies;

    /// <summary>s = <see cref="TimeScale"/>·t.</summary>
    public const double TimeScale = 1000.0;

    /// <param name="width">the output width (the DiT width).</param>
    /// <param name="features">F, the number of sinusoidal features (even; DiT uses 256).</param>
    public TimestepEmbedding(long width, int features = 256, Device? device = null) : base(nameof(TimestepEmbedding))
    {
        if (features <= 0 || features % 2 != 0) throw new ArgumentOutOfRangeException(nameof(features), features, "must be even and > 0");
        int half = features / 2;
        _frequencies = Enumerable.Range(0, half).Select(i => (float)(TimeScale * Math.Exp(-Math.Log(10000.0) * i / half))).ToArray();
        _fc1 = nn.Linear(features, width, hasBias: true, device: device);
        _fc2 = nn.Linear(width, width, hasBias: true, device: device);
        RegisterComponents();
    }

    /// <summary>Both layers N(0, 0.02) (DiT's choice for this MLP), biases zero.</summary>
    public void Initialize(Generator generator)
    {
        SeededInit.Linear(_fc1, generator);
        SeededInit.Linear(_fc2, generator);
    }

    /// <summary>The sinusoidal features φ(t) [B, F] of times <paramref name="time"/> [B] (the scale 1000 is folded into ω).</summary>
    public Tensor Features(Tensor time)
    {
        if (time.dim() != 1) throw new ArgumentException($"times must be [B], got [{string.Join(", ", time.shape)}]", nameof(time));
        var omega = tensor(_frequencies, device: time.device);                                  // [F/2], already ×1000
        var args = time.to(ScalarType.Float32).unsqueeze(1) * omega.unsqueeze(0);               // [B, F/2]
        return cat([args.cos(), args.sin()], 1);
    }

    /// <summary>c [B, width] of times <paramref name="time"/> [B].</summary>
    public override Tensor forward(Tensor time) => _fc2.forward(nn.functional.silu(_fc1.forward(Features(time))));
}

using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Modules;

/// <summary>One layer's cached keys (after RoPE) and values, [B, H_kv, T, d].</summary>
public sealed record LayerKv(Tensor Keys, Tensor Values)
{
    public long Length => Keys.shape[2];
}

/// <summary>Input of <see cref="SelfAttention"/>: hidden [B, Lq, D], rotary cos/sin [B, Lq, d], the combined mask.</summary>
/// <param name="Mask">bool [B|1, 1, Lq, Lk], true = may attend; null = all keys visible.</param>
/// <param name="UseCausalKernel">no mask and plain causal attention: lets SDPA use its causal kernel.</param>
/// <param name="Past">keys/values of earlier positions, or null.</param>
/// <param name="Offset">absolute key index of the first query; the new keys are written at [Offset, Offset + Lq).</param>
public sealed record AttentionInput(Tensor Hidden, Tensor Cos, Tensor Sin, Tensor? Mask, bool UseCausalKernel,
                                    LayerKv? Past = null, long Offset = 0);

/// <summary>Output of <see cref="SelfAttention"/>: [B, Lq, D] and the full key/value set this call attended to.</summary>
public sealed record AttentionOutput(Tensor Hidden, LayerKv Kv);

/// <summary>
/// Grouped-query self-attention as in Qwen2: q/k/v projections with bias, o_proj without, RoPE on q and k,
/// scores scaled by d^−½, query head h served by kv head h / (H / H_kv) (HF <c>repeat_kv</c>).
/// Modules below the model keep no dispose scope of their own: <see cref="Models.Qwen2Model"/>'s forward scope owns every
/// temporary, which saves native calls on the small per-step forwards of samplers.
/// </summary>
public sealed class SelfAttention : nn.Module<AttentionInput, AttentionOutput>, IComputeDtype, IAdapterHost
{
    [ComponentName(Name = "q_proj")] readonly Linear _q;
    [ComponentName(Name = "k_proj")] readonly Linear _k;
    [ComponentName(Name = "v_proj")] readonly Linear _v;
    [ComponentName(Name = "o_proj")] readonly Linear _o;
    readonly int _heads, _kvHeads, _headDim;
    readonly AdapterSlots _slots;

    public SelfAttention(int hidden, int heads, int kvHeads, int headDim, Device? device = null, ScalarType? dtype = null)
        : base(nameof(SelfAttention))
    {
        _heads = heads; _kvHeads = kvHeads; _headDim = headDim;
        _q = nn.Linear(hidden, heads * headDim, hasBias: true, device: device, dtype: dtype);
        _k = nn.Linear(hidden, kvHeads * headDim, hasBias: true, device: device, dtype: dtype);
        _v = nn.Linear(hidden, kvHeads * headDim, hasBias: true, device: device, dtype: dtype);
        _o = nn.Linear(heads * headDim, hidden, hasBias: false, device: device, dtype: dtype);
        RegisterComponents();
        _slots = new AdapterSlots(("q_proj", _q), ("k_proj", _k), ("v_proj", _v), ("o_proj", _o));
    }

    /// <inheritdoc/>
    public ScalarType? ComputeDtype { get; set; }

    /// <inheritdoc/>
    public IReadOnlyList<(string Name, Linear Layer)> Projections => _slots.Projections;

    /// <inheritdoc/>
    public ILinearAdapter? GetAdapter(string name) => _slots.GetAdapter(name);

    /// <inheritdoc/>
    public void SetAdapter(string name, ILinearAdapter? adapter) => _slots.SetAdapter(name, adapter);

    /// <summary>x·Wᵀ + b of one projection (plus its adapter's Δ(x), if any), in <see cref="ComputeDtype"/> when set.</summary>
    Tensor Project(Linear layer, Tensor x) => _slots.Project(layer, x, ComputeDtype);

    public override AttentionOutput forward(AttentionInput input)
    {
        var x = input.Hidden;
        long b = x.shape[0], lq = x.shape[1];
        var q = Project(_q, x).view(b, lq, _heads, _headDim).transpose(1, 2);          // [B, H, Lq, d]
        var k = Project(_k, x).view(b, lq, _kvHeads, _headDim).transpose(1, 2);        // [B, Hkv, Lq, d]
        var v = Project(_v, x).view(b, lq, _kvHeads, _headDim).transpose(1, 2);
        q = RotaryEmbedding.Apply(q, input.Cos, input.Sin);
        k = RotaryEmbedding.Apply(k, input.Cos, input.Sin);
        var kv = Merge(input.Past, input.Offset, k, v);                              // [B, Hkv, Lk, d]

        int groups = _heads / _kvHeads;
        var keys = groups == 1 ? kv.Keys : kv.Keys.repeat_interleave(groups, dim: 1);  // [B, H, Lk, d]
        var values = groups == 1 ? kv.Values : kv.Values.repeat_interleave(groups, dim: 1);
        var attended = nn.functional.scaled_dot_product_attention(q, keys, values, input.Mask,
                                                                  is_casual: input.UseCausalKernel && input.Mask is null);
        var output = Project(_o, attended.transpose(1, 2).reshape(b, lq, _heads * _headDim));   // [B, Lq, D]
        return new AttentionOutput(output, kv);
    }

    /// <summary>past[:Offset] ++ new ++ past[Offset + Lq:] along the time axis (append when Offset = past length).</summary>
    static LayerKv Merge(LayerKv? past, long offset, Tensor k, Tensor v)
    {
        if (past is null)
        {
            if (offset != 0) throw new ArgumentException($"cache offset {offset} given without a cache");
            return new LayerKv(k, v);
        }
        long lq = k.shape[2], t = past.Length;
        if (offset < 0 || offset > t) throw new ArgumentOutOfRangeException(nameof(offset), offset, $"cache holds {t} positions");
        var keys = new List<Tensor>(3); var values = new List<Tensor>(3);
        if (offset > 0) { keys.Add(past.Keys.narrow(2, 0, offset)); values.Add(past.Values.narrow(2, 0, offset)); }
        keys.Add(k); values.Add(v);
        if (offset + lq < t)
        {
            keys.Add(past.Keys.narrow(2, offset + lq, t - offset - lq));
            values.Add(past.Values.narrow(2, offset + lq, t - offset - lq));
        }
        return new LayerKv(cat(keys, 2), cat(values, 2));
    }
}

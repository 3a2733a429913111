namespace OpenDllm.Methods.Bd3lm;

/// <summary>
/// How BD3LM training draws its times (<c>train.bd3lm.time_sampling</c>, SPEC §1.5, §4.2):
/// <list type="bullet">
/// <item><see cref="PerBlockAntithetic"/>: one t per block of b tokens, stratified across all B·(L/b) blocks of the batch
/// (kuleshov-group/bd3lms <c>_sample_t</c>).</item>
/// <item><see cref="PerSequence"/>: one t per row, every block of the row shares it (ZHZisZZ/dllm <c>BD3LMTrainer</c>).</item>
/// </list>
/// Both draw t from the noise interval [β, ω].
/// </summary>
public enum Bd3lmTimeSampling { PerBlockAntithetic, PerSequence }

/// <summary>
/// The options of BD3LM training (<c>train.bd3lm</c> in a recipe; SPEC §4). Bound strictly (unknown keys fail) and
/// checked by <see cref="Validate"/> with the dotted key named.
/// </summary>
public sealed record Bd3lmOptions
{
    /// <summary>b, the block size (bd3lms: 4, 8 or 16; dllm: 32). <c>data.seq_len</c> must be a multiple of it, and the
    /// block sampler must use the same b.</summary>
    public int BlockSize { get; init; } = 16;

    /// <summary>One t per block, antithetic across the batch (default), or one t per sequence.</summary>
    public Bd3lmTimeSampling TimeSampling { get; init; } = Bd3lmTimeSampling.PerBlockAntithetic;

    /// <summary>
    /// [β, ω], the clipped noise interval of training times: t ~ U(β, ω) (bd3lms <c>sampling_eps_min/max</c>, SPEC §4.2).
    /// The default [1e-3, 1] is the one interval whose training loss is itself a valid NELBO. The validation bound always
    /// uses [1e-3, 1].
    /// </summary>
    public double[] NoiseInterval { get; init; } = [1e-3, 1.0];

    /// <summary>
    /// With <c>data.packing: documents</c>: lay every document out from a block boundary and pad its tail with EOS up to a
    /// multiple of b (dllm's <c>AppendEOSBlockWrapper</c>; the pads are loss targets, so the model learns to end a
    /// document inside a block). Ignored with <c>data.packing: chunks</c>, where there are no boundaries to align.
    /// </summary>
    public bool EosBlockPadding { get; init; } = true;

    /// <summary>β, the lower end of <see cref="NoiseInterval"/>.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public double Beta => NoiseInterval[0];

    /// <summary>ω, the upper end of <see cref="NoiseInterval"/>.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public double Omega => NoiseInterval[1];

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first bad key (prefixed by <paramref name="key"/>).</summary>
    public Bd3lmOptions Validate(int sequenceLength, string source = "recipe", string key = "train.bd3lm")
    {
        void Check(bool ok, string name, object? value, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException($"{key}.{name}", value, $"{source}: {key}.{name} = {value ?? "null"} is out of range: {rule}");
        }
        Check(BlockSize >= 1, "block_size", BlockSize, "≥ 1");
        Check(Enum.IsDefined(TimeSampling), "time_sampling", TimeSampling, "per_block_antithetic or per_sequence");
        string interval = NoiseInterval is null ? "null" : $"[{string.Join(", ", NoiseInterval)}]";
        Check(NoiseInterval is { Length: 2 }, "noise_interval", interval, "two numbers [beta, omega]");
        Check(Beta > 0 && Beta < Omega && Omega <= 1, "noise_interval", interval, "0 < beta < omega ≤ 1 (w(t) = 1/t needs t > 0)");
        if (BlockSize >= 1 && sequenceLength % BlockSize != 0)
            throw new ArgumentOutOfRangeException("data.seq_len", sequenceLength,
                $"{source}: data.seq_len = {sequenceLength} is not a multiple of {key}.block_size = {BlockSize}");
        return this;
    }
}

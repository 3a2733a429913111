using OpenDllm.Sampling;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Sampling;

/// <summary>
/// A denoiser whose k-th forward returns the k-th scripted logits [B, T, V] whatever the canvas (the last one once the
/// script runs out), so a sampler's decisions can be checked by hand. Unshifted; counts its forwards.
/// </summary>
public sealed class ScriptedDenoiser(long maskId, params Tensor[] logitsPerCall) : IDenoiser
{
    public int Calls { get; private set; }
    public int VocabSize => (int)logitsPerCall[0].shape[^1];
    public long MaskId => maskId;
    public bool ShiftedLogits => false;

    public DenoiserOutput Forward(DenoiserInput input)
    {
        var logits = logitsPerCall[Math.Min(Calls, logitsPerCall.Length - 1)].to(input.Tokens.device);
        Calls++;
        if (!logits.shape.Take(2).SequenceEqual(input.Tokens.shape))
            throw new ArgumentException($"scripted logits [{string.Join(", ", logits.shape)}] do not fit tokens [{string.Join(", ", input.Tokens.shape)}]");
        return new DenoiserOutput(input.OutputPositions is { } rows ? logits[TensorIndex.Tensor(rows)] : logits.clone());
    }

    /// <summary>Logits [1, T, V] = log p for per-position probability rows (0 becomes −∞).</summary>
    public static Tensor FromProbabilities(double[][] probabilities) =>
        tensor(probabilities.SelectMany(p => p).ToArray(), [1, probabilities.Length, probabilities[0].Length]).log().to(ScalarType.Float32);
}

using OpenDllm.Runtime;
using static TorchSharp.torch;

namespace OpenDllm.Sampling;

/// <summary>
/// A denoiser whose logits never propose <see cref="Suppressed"/>: logit<sub>v</sub> = −∞ for every v in the set, so
/// p(v) = 0 under any temperature, top-k or top-p and no confidence rule can commit v. What a fixed-length sampler uses on
/// a DreamOn checkpoint (SPEC §5.7): its <c>&lt;expand&gt;</c>/<c>&lt;delete&gt;</c> rows are edits of the canvas's
/// length, which only the variable-length sampler can carry out; committed in place they would decode to nothing and
/// silently shorten an oracle- or fixed-length middle. KV caches pass through untouched (keys and values do not depend on
/// the head's output).
/// </summary>
public sealed class SuppressedTokensDenoiser : IDenoiser
{
    readonly long[] _ids;

    /// <param name="inner">The denoiser whose logits are edited.</param>
    /// <param name="suppressed">Vocabulary ids never to propose; each must be in [0, vocab_size) and differ from the mask id.</param>
    public SuppressedTokensDenoiser(IDenoiser inner, IReadOnlyList<long> suppressed)
    {
        foreach (var id in suppressed)
        {
            if (id < 0 || id >= inner.VocabSize)
                throw new ArgumentOutOfRangeException(nameof(suppressed), id, $"suppressed token id {id} is outside the vocabulary [0, {inner.VocabSize})");
            if (id == inner.MaskId)
                throw new ArgumentException($"suppressed token id {id} is the mask id", nameof(suppressed));
        }
        Inner = inner;
        _ids = suppressed.Distinct().ToArray();
    }

    /// <summary>The wrapped denoiser.</summary>
    public IDenoiser Inner { get; }
    /// <summary>The ids whose logits are set to −∞.</summary>
    public IReadOnlyList<long> Suppressed => _ids;
    public int VocabSize => Inner.VocabSize;
    public long MaskId => Inner.MaskId;
    public bool ShiftedLogits => Inner.ShiftedLogits;

    public DenoiserOutput Forward(DenoiserInput input)
    {
        var output = Inner.Forward(input);
        if (_ids.Length == 0) return output;
        using var index = tensor(_ids, device: output.Logits.device);
        output.Logits.index_fill_(-1, index, ScalarOps.NegativeInfinity);      // fresh model output: edited in place
        return output;
    }
}

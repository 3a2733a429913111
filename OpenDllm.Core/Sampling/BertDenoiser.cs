using OpenDllm.Models;
using OpenDllm.Models.Bert;

namespace OpenDllm.Sampling;

/// <summary>
/// Adapts a <see cref="BertForMaskedLM"/> to <see cref="IDenoiser"/>: unshifted logits (a masked LM predicts each position
/// in place), no KV cache. Every sampler that does not need a cache runs on it (masked diffusion / Dream, LLaDA, infill);
/// a cache request throws <see cref="NotSupportedException"/>.
/// </summary>
public sealed class BertDenoiser(BertForMaskedLM model, long maskId) : IDenoiser
{
    /// <summary>Uses the config's <c>mask_token_id</c> (103 for the uncased BERT vocabulary).</summary>
    public BertDenoiser(BertForMaskedLM model)
        : this(model, model.MaskTokenId ?? throw new ArgumentException("config.json has no mask_token_id; pass maskId")) { }

    public BertForMaskedLM Model { get; } = model;
    public int VocabSize => Model.VocabSize;
    public long MaskId { get; } = maskId;
    public bool ShiftedLogits => false;

    public DenoiserOutput Forward(DenoiserInput input)
    {
        var output = Model.forward(new ModelInput(input.Tokens, input.Attention, input.PositionIds, input.KeyPadding,
                                                  Cache: input.Cache, CacheOffset: input.CacheOffset, ReturnCache: input.ReturnCache,
                                                  OutputPositions: input.OutputPositions));
        return new DenoiserOutput(output.Logits);
    }
}

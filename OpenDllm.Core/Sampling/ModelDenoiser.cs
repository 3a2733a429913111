using OpenDllm.Models;

namespace OpenDllm.Sampling;

/// <summary>
/// Adapts any <see cref="LanguageModel"/> (Qwen2, BERT, …) to <see cref="IDenoiser"/>. A sampler that needs a KV cache
/// (Fast-dLLM, block decoding) refuses a model without one (<see cref="LanguageModel.SupportsKvCache"/>) when it asks for it.
/// </summary>
public sealed class ModelDenoiser(LanguageModel model, long maskId, bool shiftedLogits) : IDenoiser
{
    /// <summary>Uses the config's <c>mask_token_id</c> and logit alignment (<see cref="LanguageModel.ShiftedLogits"/>: the
    /// key, an override, or inferred for a loaded *ForCausalLM checkpoint).</summary>
    public ModelDenoiser(LanguageModel model)
        : this(model, model.MaskTokenId ?? throw new ArgumentException("config.json has no mask_token_id; pass maskId"),
               model.ShiftedLogits) { }

    public LanguageModel Model { get; } = model;
    public int VocabSize => Model.VocabSize;
    public long MaskId { get; } = maskId;
    public bool ShiftedLogits { get; } = shiftedLogits;

    public DenoiserOutput Forward(DenoiserInput input)
    {
        if ((input.Cache is not null || input.ReturnCache) && !Model.SupportsKvCache)
            throw new NotSupportedException($"this sampler needs a KV cache, which {Model.ModelType} models do not have; "
                + "use a sampler without one (dream, llada, mdlm)");
        SamplingProgress.CountForward();
        var output = Model.forward(new ModelInput(input.Tokens, input.Attention, input.PositionIds, input.KeyPadding,
                                                  Cache: input.Cache, CacheOffset: input.CacheOffset, ReturnCache: input.ReturnCache,
                                                  OutputPositions: input.OutputPositions));
        return new DenoiserOutput(output.Logits, output.Cache);
    }
}

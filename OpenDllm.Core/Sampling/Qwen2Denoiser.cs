using OpenDllm.Models;

namespace OpenDllm.Sampling;

/// <summary>Adapts a <see cref="Qwen2Model"/> to <see cref="IDenoiser"/>.</summary>
public sealed class Qwen2Denoiser(Qwen2Model model, long maskId, bool shiftedLogits) : IDenoiser
{
    /// <summary>Uses the config's <c>mask_token_id</c> and <c>shifted_logits</c> (<see cref="Config.ModelConfig.IsShifted"/>: the key, an override, or inferred for a loaded *ForCausalLM checkpoint).</summary>
    public Qwen2Denoiser(Qwen2Model model)
        : this(model, model.Config.MaskTokenId ?? throw new ArgumentException("config.json has no mask_token_id; pass maskId"),
               model.Config.IsShifted) { }

    public Qwen2Model Model { get; } = model;
    public int VocabSize => Model.Config.VocabSize;
    public long MaskId { get; } = maskId;
    public bool ShiftedLogits { get; } = shiftedLogits;

    public DenoiserOutput Forward(DenoiserInput input)
    {
        var output = Model.forward(new ModelInput(input.Tokens, input.Attention, input.PositionIds, input.KeyPadding,
                                                  Cache: input.Cache, CacheOffset: input.CacheOffset, ReturnCache: input.ReturnCache,
                                                  OutputPositions: input.OutputPositions));
        return new DenoiserOutput(output.Logits, output.Cache);
    }
}

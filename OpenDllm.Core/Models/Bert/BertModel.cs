using OpenDllm.Attention;
using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace OpenDllm.Models.Bert;

/// <summary>What <see cref="BertModel"/> returns.</summary>
/// <param name="LastHiddenState">[B, L, D]: HF's <c>last_hidden_state</c> (the last layer's output; BERT has no final norm).</param>
/// <param name="HiddenStates">when asked for, N + 1 tensors [B, L, D] as HF's <c>hidden_states</c>: the embedding output, then
/// each layer's output (the last equals <paramref name="LastHiddenState"/>).</param>
public sealed record BertEncoderOutput(Tensor LastHiddenState, IReadOnlyList<Tensor>? HiddenStates = null);

/// <summary>
/// HF <c>BertModel</c> without its pooler (the <c>bert.</c> prefix inside <see cref="BertForMaskedLM"/>): embeddings →
/// N post-norm layers. <c>last_hidden_state = Layer_N(… Layer_1(Embeddings(x, p)))</c>. Attention is a per-call policy
/// (<see cref="ModelInput.Attention"/>) combined with key padding and packed-document ids into one boolean mask
/// (<see cref="AttentionMaskBuilder"/>); <see cref="ModelInput.PositionIds"/> are absolute (learned) positions, default
/// 0 … L−1. KV caches are not supported (<see cref="NotSupportedException"/>).
/// </summary>
public sealed class BertModel : nn.Module<ModelInput, BertEncoderOutput>
{
    [ComponentName(Name = "embeddings")] internal readonly BertEmbeddings Embeddings;
    [ComponentName(Name = "encoder")] internal readonly BertEncoder Encoder;

    public BertModel(BertConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(BertModel))
    {
        Config = config.Validate();
        Embeddings = new BertEmbeddings(config, device, dtype);
        Encoder = new BertEncoder(config, device, dtype);
        RegisterComponents();
    }

    public BertConfig Config { get; }

    /// <summary>The word embedding matrix [V, D] (the tied MLM decoder weight).</summary>
    public Tensor WordEmbeddings => Embeddings.Word.weight!;

    /// <summary>Embeddings → layers. Uses Tokens, Attention, PositionIds, KeyPadding, DocumentIds and ReturnHiddenStates.</summary>
    public override BertEncoderOutput forward(ModelInput input)
    {
        var tokens = input.Tokens;
        if (tokens.dim() != 2) throw new ArgumentException($"tokens must be [B, L], got [{string.Join(", ", tokens.shape)}]");
        if (input.Cache is not null || input.ReturnCache || input.CacheOffset is not null)
            throw new NotSupportedException("BERT models have no KV cache: use a sampler that does not need one (masked diffusion, LLaDA, infill)");
        long l = tokens.shape[1];
        using var scope = NewDisposeScope();
        var positions = input.PositionIds ?? arange(l, dtype: ScalarType.Int64, device: tokens.device);
        CheckPositions(positions, l);
        var mask = AttentionMaskBuilder.Build(input.Attention, l, l, 0, tokens.device, input.KeyPadding, input.DocumentIds, input.DocumentIds);

        var x = Embeddings.forward(tokens, positions);                                  // [B, L, D]
        var hidden = input.ReturnHiddenStates ? new List<Tensor> { x } : null;
        foreach (var layer in Encoder.Layers)
        {
            x = layer.forward(x, mask);
            hidden?.Add(x);
        }
        x.MoveToOuterDisposeScope();
        hidden?.ForEach(h => h.MoveToOuterDisposeScope());
        return new BertEncoderOutput(x, hidden);
    }

    /// <summary>Positions must be [L] or [B, L] and lie in [0, max_position_embeddings): learned positions have no row beyond.</summary>
    void CheckPositions(Tensor positions, long length)
    {
        if (positions.shape[^1] != length || positions.dim() is not (1 or 2))
            throw new ArgumentException($"position ids must be [L] or [B, L] with L = {length}, got [{string.Join(", ", positions.shape)}]");
        if (length > Config.MaxPositionEmbeddings || positions.numel() > 0 && (positions.min().item<long>() < 0 || positions.max().item<long>() >= Config.MaxPositionEmbeddings))
            throw new ArgumentOutOfRangeException(nameof(positions),
                $"position ids must lie in [0, max_position_embeddings = {Config.MaxPositionEmbeddings}) (sequence length {length})");
    }
}

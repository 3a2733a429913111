using OpenDllm.Modules;
using TorchSharp;
using TorchSharp.Utils;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Models.Bert;

/// <summary>
/// HF <c>bert.embeddings</c>: <c>e = Dropout(LayerNorm(W_word[x] + W_pos[p] + W_type[0]))</c> with learned absolute
/// positions p (0 … L−1 unless given; packed documents restart at 0) and token type 0 everywhere (OpenDllm feeds one
/// segment). Parameter names: <c>word_embeddings.weight</c>, <c>position_embeddings.weight</c>,
/// <c>token_type_embeddings.weight</c>, <c>LayerNorm.{weight,bias}</c>.
/// </summary>
public sealed class BertEmbeddings : nn.Module<Tensor, Tensor, Tensor>, IComputeDtype
{
    [ComponentName(Name = "word_embeddings")] internal readonly Embedding Word;
    [ComponentName(Name = "position_embeddings")] internal readonly Embedding Position;
    [ComponentName(Name = "token_type_embeddings")] internal readonly Embedding TokenType;
    [ComponentName(Name = "LayerNorm")] internal readonly LayerNorm Norm;
    readonly double _dropout;

    public BertEmbeddings(BertConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(BertEmbeddings))
    {
        Word = nn.Embedding(config.VocabSize, config.HiddenSize, padding_idx: config.PadTokenId, device: device, dtype: dtype);
        Position = nn.Embedding(config.MaxPositionEmbeddings, config.HiddenSize, device: device, dtype: dtype);
        TokenType = nn.Embedding(config.TypeVocabSize, config.HiddenSize, device: device, dtype: dtype);
        Norm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps, device: device, dtype: dtype);
        _dropout = config.HiddenDropoutProb;
        RegisterComponents();
    }

    /// <inheritdoc/>
    public ScalarType? ComputeDtype { get; set; }

    /// <summary>Tokens [B, L] and positions [B, L] or [L] (already range-checked) → [B, L, D].</summary>
    public override Tensor forward(Tensor tokens, Tensor positions)
    {
        var sum = Word.forward(tokens) + Position.forward(positions) + TokenType.weight![0];   // type 0: row 0 broadcast
        return BertPrecision.Dropout(BertPrecision.Norm(Norm, sum, ComputeDtype), _dropout, training);
    }
}

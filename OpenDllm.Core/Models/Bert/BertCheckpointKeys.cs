namespace OpenDllm.Models.Bert;

/// <summary>
/// How the keys of a Hugging Face BERT checkpoint map onto <see cref="BertForMaskedLM"/>'s state dict:
/// <list type="bullet">
/// <item><c>bert.*</c> and <c>cls.predictions.*</c> as they are (a BertForMaskedLM / BertForPreTraining file);</item>
/// <item><c>embeddings.*</c>, <c>encoder.*</c> get the <c>bert.</c> prefix (a plain BertModel file, as sentence-transformers
/// repositories and <c>opendllm convert</c> store it);</item>
/// <item>old TensorFlow-converted names <c>LayerNorm.gamma</c> / <c>LayerNorm.beta</c> become <c>weight</c> / <c>bias</c>, as
/// transformers renames them;</item>
/// <item>ignored, with the reason: the pooler, the next-sentence head, the position/token-type id buffers, and the tied decoder
/// copies <c>cls.predictions.decoder.{weight,bias}</c> (checked equal to what they are tied to).</item>
/// </list>
/// </summary>
public static class BertCheckpointKeys
{
    /// <summary>The decoder weight a checkpoint may carry although it is tied to the word embeddings.</summary>
    public const string TiedDecoderWeight = "cls.predictions.decoder.weight";
    /// <summary>The decoder bias a checkpoint may carry although it is tied to <c>cls.predictions.bias</c>.</summary>
    public const string TiedDecoderBias = "cls.predictions.decoder.bias";

    /// <summary>Why a checkpoint key is skipped, or null when it is not one of the ignored kinds.</summary>
    public static string? IgnoredReason(string key)
    {
        var k = key.StartsWith("bert.", StringComparison.Ordinal) ? key["bert.".Length..] : key;
        if (k.StartsWith("pooler.", StringComparison.Ordinal)) return "pooler (used for sentence classification, not by the MLM)";
        if (k.StartsWith("cls.seq_relationship.", StringComparison.Ordinal)) return "next-sentence-prediction head (not used by the MLM)";
        if (k is "embeddings.position_ids" or "embeddings.token_type_ids") return "index buffer (recomputed, not a weight)";
        if (key == TiedDecoderWeight) return "tied to bert.embeddings.word_embeddings.weight (checked equal)";
        if (key == TiedDecoderBias) return "tied to cls.predictions.bias (checked equal)";
        return null;
    }

    /// <summary>The state-dict key of checkpoint key <paramref name="key"/> (prefix and LayerNorm renames applied).</summary>
    public static string ModelKey(string key)
    {
        var k = key.Replace("LayerNorm.gamma", "LayerNorm.weight", StringComparison.Ordinal)
                   .Replace("LayerNorm.beta", "LayerNorm.bias", StringComparison.Ordinal);
        return k.StartsWith("embeddings.", StringComparison.Ordinal) || k.StartsWith("encoder.", StringComparison.Ordinal) ? "bert." + k : k;
    }

    /// <summary>True for the keys of the MLM head that a plain BertModel checkpoint lacks and loading may initialise.</summary>
    public static bool IsMlmHead(string modelKey) => modelKey.StartsWith("cls.predictions.", StringComparison.Ordinal);
}

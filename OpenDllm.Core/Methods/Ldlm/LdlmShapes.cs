namespace OpenDllm.Methods.Ldlm;

/// <summary>
/// The named LDLM module shapes (SPEC §6.1–6.2), kept in this one place: recipes (<c>train.ldlm.modules</c>) and
/// <c>opendllm bench ldlm --shape</c> use the same values. Each takes the frozen encoder's width D, the vocabulary V and
/// the sequence length L, which come from the encoder model, the tokenizer and the data.
/// </summary>
public static class LdlmShapes
{
    /// <summary>The names <see cref="Named"/> accepts.</summary>
    public static readonly IReadOnlyList<string> Names = ["tiny", "seed-35b-a3b"];

    /// <summary>
    /// recipes/ldlm-tiny.yaml's modules, a CPU-sized LDLM over the quickstart encoder (D = 256, V = 262 bytes, L = 64):
    /// K = 16 latents of width d = 64, 4 Perceiver heads, 2 Perceiver layers each way, a 1-layer token decoder with
    /// 4 heads, a 3-layer DiT of width 128 with 4 heads, FFN ×4, no dropout, normalised latents.
    /// </summary>
    public static LdlmArchitecture Tiny(long hiddenSize, int vocabSize, long length) => new LdlmArchitecture
    {
        EncoderHiddenSize = hiddenSize, VocabSize = vocabSize, Length = length,
        Latents = 16, LatentDim = 64, PerceiverHeads = 1, EncoderLayers = 2, DecoderLayers = 2, FfnMultiplier = 4,
        Dropout = 0, NormalizeLatents = true, TokenDecoderLayers = 1, TokenDecoderHeads = 4,
        DitLayers = 3, DitWidth = 128, DitHeads = 4,
    }.Validate("LdlmShapes.Tiny", "ldlm");

    /// <summary>
    /// The layer counts of the seed's 35B-A3B table (4 Perceiver layers each way, 8 heads, 2 token-decoder layers, 3 DiT
    /// layers) at a width the 0.5B preset can carry (meant for D = 896, V = 151,936, L = 64). What the table does not fix
    /// is chosen here: K = 32 latents for L = 64 and d = 768 (the authors' earlier code, SPEC §6.1), a DiT of width 768
    /// (= d, so its input and output projections only change the self-conditioning concatenation), 8 heads everywhere
    /// (head width 96 in the Perceivers and the DiT, D/8 in the token decoder), FFN ×4, no dropout, normalised latents.
    /// D must be a multiple of 8.
    /// </summary>
    public static LdlmArchitecture SeedTable(long hiddenSize, int vocabSize, long length) => new LdlmArchitecture
    {
        EncoderHiddenSize = hiddenSize, VocabSize = vocabSize, Length = length,
        Latents = 32, LatentDim = 768, PerceiverHeads = 8, EncoderLayers = 4, DecoderLayers = 4, FfnMultiplier = 4,
        Dropout = 0, NormalizeLatents = true, TokenDecoderLayers = 2, TokenDecoderHeads = 8,
        DitLayers = 3, DitWidth = 768, DitHeads = 8,
    }.Validate("LdlmShapes.SeedTable", "ldlm");

    /// <summary>The shape called <paramref name="name"/> (one of <see cref="Names"/>); anything else is an
    /// <see cref="ArgumentException"/> listing the names.</summary>
    public static LdlmArchitecture Named(string name, long hiddenSize, int vocabSize, long length) => name switch
    {
        "tiny" => Tiny(hiddenSize, vocabSize, length),
        "seed-35b-a3b" => SeedTable(hiddenSize, vocabSize, length),
        _ => throw new ArgumentException($"unknown LDLM shape '{name}'; valid shapes: {string.Join(", ", Names)}"),
    };
}

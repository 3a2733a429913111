namespace OpenDllm.Methods.Ldlm;

/// <summary>
/// The shapes of LDLM's trained modules (SPEC §6.1–6.2): the Perceiver encoder (K learned latent queries over the frozen
/// LM's hidden states, width d), the Perceiver decoder (L position queries over the latents, back to the LM width D),
/// the token decoder (a small transformer and an LM head on ĥ) and the DiT denoiser on the latents. Saved with a
/// checkpoint (<c>ldlm_architecture.json</c>, <see cref="LdlmModules.Save"/>) so the modules can be rebuilt without the recipe.
/// </summary>
public sealed record LdlmArchitecture
{
    /// <summary>D: the frozen encoder LM's hidden size (the width of h and ĥ).</summary>
    public long EncoderHiddenSize { get; init; }
    /// <summary>V: the token vocabulary of the LM head of the token decoder.</summary>
    public int VocabSize { get; init; }
    /// <summary>L: tokens per sequence; the Perceiver decoder's query count (the generated length).</summary>
    public long Length { get; init; }
    /// <summary>K: latent vectors per sequence (the seed's earlier code: 32 for L = 64).</summary>
    public long Latents { get; init; } = 16;
    /// <summary>d: the latent width; smaller than D through a projection (the bottleneck the seed names as unexplored).</summary>
    public long LatentDim { get; init; } = 64;
    /// <summary>Attention heads of the Perceiver blocks (both directions); must divide d.</summary>
    public int PerceiverHeads { get; init; } = 4;
    /// <summary>Perceiver encoder layers (h → z).</summary>
    public int EncoderLayers { get; init; } = 2;
    /// <summary>Perceiver decoder layers (z → ĥ).</summary>
    public int DecoderLayers { get; init; } = 2;
    /// <summary>FFN width multiple in the Perceiver and token-decoder blocks (4 in the authors' code).</summary>
    public int FfnMultiplier { get; init; } = 4;
    /// <summary>Dropout in attention outputs and FFNs (0.1 in the authors' code; 0 for the small CPU recipes).</summary>
    public double Dropout { get; init; }
    /// <summary>Latents normalised to norm √d per vector after the encoder (SPEC §6.1, optional in the authors' code).</summary>
    public bool NormalizeLatents { get; init; } = true;
    /// <summary>Token decoder transformer layers on ĥ (the seed's 35B-A3B table: 2).</summary>
    public int TokenDecoderLayers { get; init; } = 1;
    /// <summary>Attention heads of the token decoder; must divide D.</summary>
    public int TokenDecoderHeads { get; init; } = 4;
    /// <summary>DiT layers (the seed's table: 3).</summary>
    public int DitLayers { get; init; } = 3;
    /// <summary>DiT width (its input projects d → width, its output width → d).</summary>
    public long DitWidth { get; init; } = 128;
    /// <summary>DiT attention heads; must divide the DiT width.</summary>
    public int DitHeads { get; init; } = 4;
    /// <summary>ε of the layer and QK RMS norms.</summary>
    public double NormEps { get; init; } = 1e-6;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first bad field (prefixed by <paramref name="key"/>).</summary>
    public LdlmArchitecture Validate(string source = "recipe", string key = "train.ldlm")
    {
        void Check(bool ok, string name, object? value, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException($"{key}.{name}", value, $"{source}: {key}.{name} = {value ?? "null"} is out of range: {rule}");
        }
        Check(EncoderHiddenSize > 0, "encoder_hidden_size", EncoderHiddenSize, "> 0 (the encoder model's hidden_size)");
        Check(VocabSize > 0, "vocab_size", VocabSize, "> 0");
        Check(Length > 0, "length", Length, "> 0 (data.seq_len)");
        Check(Latents > 0, "latents", Latents, "> 0");
        Check(LatentDim > 0, "latent_dim", LatentDim, "> 0");
        Check(PerceiverHeads > 0 && LatentDim % PerceiverHeads == 0, "perceiver_heads", PerceiverHeads, $"> 0 and divides latent_dim = {LatentDim}");
        Check(EncoderLayers > 0, "encoder_layers", EncoderLayers, "> 0");
        Check(DecoderLayers > 0, "decoder_layers", DecoderLayers, "> 0");
        Check(FfnMultiplier > 0, "ffn_multiplier", FfnMultiplier, "> 0");
        Check(Dropout is >= 0 and < 1, "dropout", Dropout, "in [0, 1)");
        Check(TokenDecoderLayers >= 0, "token_decoder_layers", TokenDecoderLayers, "≥ 0 (0 = the LM head alone)");
        Check(TokenDecoderHeads > 0 && EncoderHiddenSize % TokenDecoderHeads == 0, "token_decoder_heads", TokenDecoderHeads,
              $"> 0 and divides the encoder's hidden size {EncoderHiddenSize}");
        Check(DitLayers > 0, "dit_layers", DitLayers, "> 0");
        Check(DitWidth > 0, "dit_width", DitWidth, "> 0");
        Check(DitHeads > 0 && DitWidth % DitHeads == 0, "dit_heads", DitHeads, $"> 0 and divides dit_width = {DitWidth}");
        Check(NormEps > 0 && double.IsFinite(NormEps), "norm_eps", NormEps, "finite and > 0");
        return this;
    }
}

using OpenDllm.Methods.Ldlm;

namespace OpenDllm.Tests.Methods.Ldlm;

/// <summary>A small LDLM architecture over <c>ModelConfig.Tiny</c>'s width (D = 32): fast on a CPU.</summary>
internal static class LdlmTestArchitecture
{
    public static LdlmArchitecture Small => new()
    {
        EncoderHiddenSize = 32, VocabSize = 99, Length = 8, Latents = 4, LatentDim = 16, PerceiverHeads = 4,
        EncoderLayers = 2, DecoderLayers = 2, FfnMultiplier = 2, Dropout = 0, NormalizeLatents = true,
        TokenDecoderLayers = 1, TokenDecoderHeads = 4, DitLayers = 2, DitWidth = 32, DitHeads = 4,
    };
}

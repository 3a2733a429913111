using OpenDllm.Attention;
using OpenDllm.Sampling;
using static TorchSharp.torch;

namespace OpenDllm.Methods.Ldlm;

/// <summary>
/// How well the frozen encoder LM predicts the tokens of a text it is shown: a fluency score for generated text that needs
/// no reference (in the spirit of "generative perplexity", with the encoder as the judge). For an encoder with a [MASK]
/// token (a diffusion or BERT model) a fraction of positions is masked and the score is the share the encoder restores
/// exactly (argmax, bidirectional, one forward); for a causal encoder it is next-token accuracy. Computed on generated
/// text and, for reference, on real held-out text of the same length, so the two numbers are compared under one judge.
/// </summary>
public static class EncoderAgreement
{
    /// <summary>The share of positions masked for a masked-LM encoder.</summary>
    public const double MaskRate = 0.15;

    /// <summary>
    /// Accuracy in [0, 1] of <paramref name="encoder"/> on <paramref name="tokens"/> [B, L] (any device); masks drawn from
    /// <paramref name="generator"/> (CPU). Masked LM: positions i with u_i &lt; rate (at least one per row) are replaced by
    /// [MASK]; prediction for i is argmax logits[i] (logits[i − 1] for a shifted model, whose first position is never
    /// masked). Causal: argmax logits[i] against token i + 1.
    /// </summary>
    public static double Accuracy(FrozenEncoder encoder, Tensor tokens, Generator generator)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var model = encoder.Model;
        if (ReferenceEquals(encoder.Attention, AttentionPolicy.Causal) || model.MaskTokenId is null)
        {
            var logits = model.Logits(tokens, AttentionPolicy.Causal);                               // [B, L, V]
            var predicted = logits.narrow(1, 0, tokens.shape[1] - 1).argmax(-1);
            return (predicted == tokens.narrow(1, 1, tokens.shape[1] - 1)).to(ScalarType.Float64).mean().item<double>();
        }
        long b = tokens.shape[0], l = tokens.shape[1];
        bool shifted = model.ShiftedLogits;
        var u = SeededDraws.Uniform([b, l], generator, tokens.device);                                 // [B, L]
        if (shifted) u.narrow(1, 0, 1).fill_(1.0);                                                     // position 0 has no predictor
        var masked = u < MaskRate;
        masked = masked | (u == u.min(1, keepdim: true).values);                                       // at least one per row
        var noisy = where(masked, model.MaskTokenId.Value, tokens);
        var all = model.Logits(noisy, AttentionPolicy.Bidirectional);                                  // [B, L, V]
        var rows = shifted ? cat([all.narrow(1, 0, 1), all.narrow(1, 0, l - 1)], 1) : all;             // row i predicts token i
        var correct = (rows.argmax(-1) == tokens) & masked;
        return correct.sum().to(ScalarType.Float64).item<double>() / Math.Max(1, masked.sum().item<long>());
    }
}

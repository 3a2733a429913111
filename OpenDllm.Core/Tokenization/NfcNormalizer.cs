using System.Text;
using Microsoft.ML.Tokenizers;

namespace OpenDllm.Tokenization;

/// <summary>
/// Unicode NFC normalization for ML.Tokenizers (which has no built-in one); Qwen's tokenizer.json
/// declares <c>"normalizer": {"type": "NFC"}</c>.
/// </summary>
internal sealed class NfcNormalizer : Normalizer
{
    public static NfcNormalizer Instance { get; } = new();

    public override string Normalize(string original) =>
        original.IsNormalized(NormalizationForm.FormC) ? original : original.Normalize(NormalizationForm.FormC);

    public override string Normalize(ReadOnlySpan<char> original) => Normalize(original.ToString());
}

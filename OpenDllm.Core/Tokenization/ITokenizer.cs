namespace OpenDllm.Tokenization;

/// <summary>
/// A text tokenizer as OpenDllm uses it: text to ids without any added BOS/EOS, ids back to text,
/// and the special ids diffusion training and sampling need.
/// </summary>
/// <remarks>
/// Implementations: <see cref="ByteTokenizer"/> (UTF-8 bytes plus a few specials, needs no files) and
/// <see cref="HuggingFaceTokenizer"/> (byte-level BPE <c>tokenizer.json</c>, e.g. Qwen2/2.5/3).
/// Use <see cref="Tokenizers.Load"/> to reopen what <see cref="Save"/> wrote.
/// </remarks>
public interface ITokenizer
{
    /// <summary>
    /// Identity string for run manifests and checkpoints: <c>"byte-v1"</c> for <see cref="ByteTokenizer"/>,
    /// <c>"hf-bpe:&lt;first 12 hex digits of the SHA-256 of tokenizer.json&gt;"</c> for <see cref="HuggingFaceTokenizer"/>.
    /// Two tokenizers with the same name produce the same ids.
    /// </summary>
    string Name { get; }

    /// <summary>
    /// Number of ids the embedding matrix must hold: one more than the largest id this tokenizer can
    /// produce, specials included. A model may have more rows (Qwen2.5 has 151,936), never fewer.
    /// </summary>
    int VocabSize { get; }

    /// <summary>The special-token ids (mask, EOS, pad, optional BOS and FIM markers).</summary>
    SpecialTokens Special { get; }

    /// <summary>
    /// Encodes <paramref name="text"/> to ids. No BOS/EOS is added. Special-token strings that appear
    /// literally in the text (e.g. <c>&lt;|endoftext|&gt;</c>) map to their ids, as Hugging Face tokenizers do.
    /// </summary>
    IReadOnlyList<int> Encode(string text);

    /// <summary>
    /// Decodes ids to text. Byte sequences that are not valid UTF-8 become U+FFFD; ids that are not in the
    /// vocabulary (negative, or padded embedding rows) are skipped. Never throws for any id sequence.
    /// </summary>
    /// <param name="ids">The ids to decode.</param>
    /// <param name="skipSpecialTokens">When true, special tokens (EOS, PAD, mask, FIM markers, …) are left out.</param>
    string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false);

    /// <summary>
    /// Writes files into <paramref name="directory"/> (created if needed) from which
    /// <see cref="Tokenizers.Load"/> recreates a tokenizer with the same <see cref="Name"/> and ids.
    /// </summary>
    void Save(string directory);
}

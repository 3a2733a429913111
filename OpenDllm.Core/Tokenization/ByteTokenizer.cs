using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace OpenDllm.Tokenization;

/// <summary>
/// A tokenizer without files: ids 0–255 are the UTF-8 bytes of the text, followed by six specials
/// spelled as in Qwen: 256 <c>&lt;|endoftext|&gt;</c> (EOS), 257 <c>&lt;|pad|&gt;</c>, 258 <c>&lt;|mask|&gt;</c>,
/// 259 <c>&lt;|fim_prefix|&gt;</c>, 260 <c>&lt;|fim_middle|&gt;</c>, 261 <c>&lt;|fim_suffix|&gt;</c>.
/// <see cref="ITokenizer.VocabSize"/> is 262. For small experiments and tests.
/// </summary>
/// <remarks>
/// No normalization: <c>Decode(Encode(s)) == s</c> for every string that is valid UTF-16; lone surrogates
/// encode as U+FFFD (EF BF BD), as <see cref="Encoding.UTF8"/> does. Special-token strings in the text map to
/// their ids. Decoding turns invalid UTF-8 into U+FFFD and never throws; ids outside 0–261 are skipped.
/// </remarks>
public sealed class ByteTokenizer : ITokenizer
{
    /// <summary>The <c>tokenizer_class</c> written by <see cref="Save"/> and recognised by <see cref="Tokenizers.Load"/>.</summary>
    public const string TokenizerClass = "OpenDllmByteTokenizer";

    /// <summary>Format version written into tokenizer_config.json.</summary>
    public const int FormatVersion = 1;

    /// <summary>EOS string, id 256.</summary>
    public const string EosToken = "<|endoftext|>";
    /// <summary>PAD string, id 257.</summary>
    public const string PadToken = "<|pad|>";
    /// <summary>Mask string, id 258.</summary>
    public const string MaskToken = "<|mask|>";
    /// <summary>FIM prefix string, id 259.</summary>
    public const string FimPrefixToken = "<|fim_prefix|>";
    /// <summary>FIM middle string, id 260.</summary>
    public const string FimMiddleToken = "<|fim_middle|>";
    /// <summary>FIM suffix string, id 261.</summary>
    public const string FimSuffixToken = "<|fim_suffix|>";

    private static readonly string[] SpecialStrings =
        [EosToken, PadToken, MaskToken, FimPrefixToken, FimMiddleToken, FimSuffixToken];

    private const int FirstSpecialId = 256;

    /// <summary>The single shared instance (the tokenizer is stateless).</summary>
    public static ByteTokenizer Instance { get; } = new();

    /// <summary>Creates the byte tokenizer; equivalent to <see cref="Instance"/>.</summary>
    public ByteTokenizer() { }

    /// <inheritdoc/>
    public string Name => "byte-v1";

    /// <inheritdoc/>
    public int VocabSize => FirstSpecialId + SpecialStrings.Length;

    /// <inheritdoc/>
    public SpecialTokens Special { get; } = new()
    {
        Eos = FirstSpecialId,
        Pad = FirstSpecialId + 1,
        Mask = FirstSpecialId + 2,
        FimPrefix = FirstSpecialId + 3,
        FimMiddle = FirstSpecialId + 4,
        FimSuffix = FirstSpecialId + 5,
    };

    /// <inheritdoc/>
    public IReadOnlyList<int> Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length + 8);
        int start = 0;
        int pos = 0;
        while (pos < text.Length)
        {
            int hit = text.IndexOf("<|", pos, StringComparison.Ordinal);
            if (hit < 0) break;
            int special = MatchSpecial(text, hit);
            if (special < 0)
            {
                pos = hit + 1;
                continue;
            }
            AppendBytes(text.AsSpan(start, hit - start), ids);
            ids.Add(FirstSpecialId + special);
            pos = start = hit + SpecialStrings[special].Length;
        }
        AppendBytes(text.AsSpan(start), ids);
        return ids;
    }

    private static int MatchSpecial(string text, int at)
    {
        for (int i = 0; i < SpecialStrings.Length; i++)
            if (text.AsSpan(at).StartsWith(SpecialStrings[i], StringComparison.Ordinal))
                return i;
        return -1;
    }

    private static void AppendBytes(ReadOnlySpan<char> chars, List<int> ids)
    {
        if (chars.IsEmpty) return;
        byte[] bytes = new byte[Encoding.UTF8.GetByteCount(chars)];
        Encoding.UTF8.GetBytes(chars, bytes);
        foreach (byte b in bytes) ids.Add(b);
    }

    /// <inheritdoc/>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var sb = new StringBuilder();
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            if (id is >= 0 and < FirstSpecialId)
            {
                bytes.Add((byte)id);
            }
            else if (id >= FirstSpecialId && id < VocabSize)
            {
                Flush(bytes, sb);
                if (!skipSpecialTokens) sb.Append(SpecialStrings[id - FirstSpecialId]);
            }
        }
        Flush(bytes, sb);
        return sb.ToString();
    }

    /// <summary>Appends the UTF-8 decoding of <paramref name="bytes"/> (invalid sequences become U+FFFD) and clears it.</summary>
    internal static void Flush(List<byte> bytes, StringBuilder sb)
    {
        if (bytes.Count == 0) return;
        sb.Append(Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes)));
        bytes.Clear();
    }

    /// <summary>
    /// Writes <c>tokenizer_config.json</c> with <c>"tokenizer_class": "OpenDllmByteTokenizer"</c>, the format
    /// version and the special-token strings (informational; the layout is fixed by the version).
    /// </summary>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        var config = new JsonObject
        {
            ["tokenizer_class"] = TokenizerClass,
            ["opendllm_format_version"] = FormatVersion,
            ["name"] = Name,
            ["vocab_size"] = VocabSize,
            ["eos_token"] = EosToken,
            ["pad_token"] = PadToken,
            ["mask_token"] = MaskToken,
            ["fim_prefix_token"] = FimPrefixToken,
            ["fim_middle_token"] = FimMiddleToken,
            ["fim_suffix_token"] = FimSuffixToken,
        };
        OpenDllm.IO.AtomicFile.WriteAllText(Path.Combine(directory, HuggingFaceTokenizer.TokenizerConfigFileName),
            config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>Checks a tokenizer_config.json written by <see cref="Save"/> and returns <see cref="Instance"/>.</summary>
    internal static ByteTokenizer LoadConfig(string configPath)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(configPath));
        if (doc.RootElement.TryGetProperty("opendllm_format_version", out var v) &&
            (v.ValueKind != JsonValueKind.Number || v.GetInt32() != FormatVersion))
            throw new InvalidDataException(
                $"{configPath}: field \"opendllm_format_version\" is {v.GetRawText()}, this build reads {FormatVersion}.");
        return Instance;
    }
}

using System.Text.Json;

namespace OpenDllm.Tokenization;

/// <summary>Opens a saved tokenizer, picking the implementation from the files present.</summary>
public static class Tokenizers
{
    /// <summary>
    /// Loads the tokenizer stored in <paramref name="directory"/>:
    /// a <c>tokenizer.json</c> there means <see cref="HuggingFaceTokenizer"/>; otherwise a
    /// <c>tokenizer_config.json</c> whose <c>tokenizer_class</c> is <c>"OpenDllmByteTokenizer"</c> means <see cref="ByteTokenizer"/>.
    /// </summary>
    /// <param name="directory">A folder written by <see cref="ITokenizer.Save"/> or a Hugging Face model folder.</param>
    /// <param name="embeddingRows">Passed to <see cref="HuggingFaceTokenizer.Load"/>: the model's embedding rows, which an added mask id must fit in.</param>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">Neither file is there.</exception>
    /// <exception cref="InvalidDataException">The files are present but not a supported tokenizer.</exception>
    public static ITokenizer Load(string directory, int? embeddingRows = null)
    {
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"Tokenizer folder not found: {directory}");
        string json = Path.Combine(directory, HuggingFaceTokenizer.TokenizerJsonFileName);
        if (IsWordPiece(directory)) return BertWordPieceTokenizer.Load(directory);
        if (File.Exists(json)) return HuggingFaceTokenizer.Load(json, embeddingRows);

        string config = Path.Combine(directory, HuggingFaceTokenizer.TokenizerConfigFileName);
        if (!File.Exists(config))
            throw new FileNotFoundException(
                $"No tokenizer in {directory}: expected {HuggingFaceTokenizer.TokenizerJsonFileName} or a {HuggingFaceTokenizer.TokenizerConfigFileName} with \"tokenizer_class\": \"{ByteTokenizer.TokenizerClass}\".",
                json);

        string? cls;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(config));
            cls = doc.RootElement.ValueKind == JsonValueKind.Object &&
                  doc.RootElement.TryGetProperty("tokenizer_class", out var c) && c.ValueKind == JsonValueKind.String
                ? c.GetString()
                : null;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{config}: not valid JSON ({e.Message})", e);
        }
        return cls == ByteTokenizer.TokenizerClass
            ? ByteTokenizer.LoadConfig(config)
            : throw new InvalidDataException(
                $"{config}: field \"tokenizer_class\" is {(cls is null ? "missing" : $"\"{cls}\"")} and there is no {HuggingFaceTokenizer.TokenizerJsonFileName}; " +
                $"only \"{ByteTokenizer.TokenizerClass}\" loads without one.");
    }

    /// <summary>A BERT WordPiece folder: vocab.txt plus a tokenizer_config.json naming a BERT tokenizer class.</summary>
    static bool IsWordPiece(string directory)
    {
        string config = Path.Combine(directory, HuggingFaceTokenizer.TokenizerConfigFileName);
        if (!File.Exists(Path.Combine(directory, BertWordPieceTokenizer.VocabFileName)) || !File.Exists(config)) return false;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(config));
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("tokenizer_class", out var c)
                   && c.GetString() is BertWordPieceTokenizer.TokenizerClass or "BertTokenizerFast";
        }
        catch (JsonException)
        {
            return false;
        }
    }
}

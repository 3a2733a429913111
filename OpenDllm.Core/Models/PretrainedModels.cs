using System.Text.Json;
using static TorchSharp.torch;

namespace OpenDllm.Models;

/// <summary>
/// Opens a Hugging Face checkpoint folder as the <see cref="LanguageModel"/> its <c>config.json</c> names
/// (<c>model_type</c>): <c>qwen2</c> → <see cref="Qwen2Model"/>. Another architecture joins with one
/// <see cref="Register"/> call; the trainer, pipelines and commands then load it without change.
/// </summary>
public static class PretrainedModels
{
    /// <summary>Builds a model of one architecture from a folder: (directory, device, dtype, seed of any weight the
    /// checkpoint lacks) → model.</summary>
    public delegate LanguageModel Loader(string directory, Device? device, ScalarType? dtype, long initSeed);

    static readonly Dictionary<string, Loader> Loaders = new(StringComparer.Ordinal)
    {
        ["qwen2"] = (dir, device, dtype, _) => Qwen2Model.FromPretrained(dir, device, dtype),
        ["bert"] = (dir, device, dtype, seed) => Bert.BertForMaskedLM.FromPretrained(dir, device, dtype, seed),
    };

    static readonly Lock Gate = new();

    /// <summary>The <c>model_type</c> values that load.</summary>
    public static IReadOnlyList<string> ModelTypes { get { lock (Gate) return [.. Loaders.Keys.Order(StringComparer.Ordinal)]; } }

    /// <summary>Adds (or replaces) the loader of <paramref name="modelType"/>.</summary>
    public static void Register(string modelType, Loader loader)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelType);
        ArgumentNullException.ThrowIfNull(loader);
        lock (Gate) Loaders[modelType] = loader;
    }

    /// <summary>
    /// Loads <paramref name="directory"/> (config.json + safetensors) onto <paramref name="device"/> in
    /// <paramref name="dtype"/> (default float32), with the architecture its <c>model_type</c> names. A type no loader
    /// knows is an error naming the file and the types that load. Weights the checkpoint lacks and the architecture may
    /// add (a BERT encoder's new MLM head) come from <paramref name="initSeed"/> and are listed in <see cref="LanguageModel.LoadNotes"/>.
    /// </summary>
    public static LanguageModel Load(string directory, Device? device = null, ScalarType? dtype = null, long initSeed = 0)
    {
        if (Methods.Ldlm.LdlmCheckpointInfo.IsLdlmCheckpoint(directory) && !File.Exists(ConfigFile(directory)))
            throw new InvalidDataException($"{directory}: an LDLM (latent diffusion) checkpoint, not a token-level language model: it generates "
                + $"unconditionally with `opendllm sample {directory} --method ldlm` (C#: LatentPipeline.Load); prompts, infilling and eval need a token model");
        var type = ModelType(directory);
        Loader? loader;
        lock (Gate) Loaders.TryGetValue(type, out loader);
        if (loader is null)
            throw new InvalidDataException($"{ConfigFile(directory)}: model_type \"{type}\" is not supported; models that load: {string.Join(", ", ModelTypes)}");
        return loader(directory, device, dtype, initSeed);
    }

    /// <summary>The <c>model_type</c> of <paramref name="directory"/>'s config.json (<c>qwen2</c> when the key is absent, as
    /// OpenDllm's first checkpoints were written).</summary>
    public static string ModelType(string directory) => ReadString(directory, "model_type") ?? "qwen2";

    /// <summary>The config's <c>vocab_size</c>, read without building the model (tokenizers size their mask id by it).</summary>
    public static int? VocabSize(string directory)
    {
        using var doc = Read(directory);
        return doc.RootElement.TryGetProperty("vocab_size", out var v) && v.TryGetInt32(out int n) ? n : null;
    }

    /// <summary>The config's <c>max_position_embeddings</c>, read without building the model.</summary>
    public static int? MaxPositions(string directory)
    {
        using var doc = Read(directory);
        return doc.RootElement.TryGetProperty("max_position_embeddings", out var v) && v.TryGetInt32(out int n) ? n : null;
    }

    static string? ReadString(string directory, string key)
    {
        using var doc = Read(directory);
        return doc.RootElement.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
    }

    static string ConfigFile(string directory) => Directory.Exists(directory) ? Path.Combine(directory, "config.json") : directory;

    static JsonDocument Read(string directory)
    {
        if (!Directory.Exists(directory) && !File.Exists(directory))
            throw new DirectoryNotFoundException($"{directory}: model folder not found (a Hugging Face folder: config.json and "
                + "model.safetensors; `opendllm convert minilm --output DIR` writes the pretrained MiniLM encoder)");
        var file = ConfigFile(directory);
        if (!File.Exists(file)) throw new FileNotFoundException($"{file}: config.json not found", file);
        try
        {
            var doc = JsonDocument.Parse(File.ReadAllText(file));
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                doc.Dispose();
                throw new InvalidDataException($"{file}: config.json is not a JSON object");
            }
            return doc;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{file}: invalid config.json ({e.Message})", e);
        }
    }
}

using System.Security.Cryptography;
using OpenDllm.Checkpoints;
using OpenDllm.IO;
using static TorchSharp.torch;

namespace OpenDllm.Lora;

/// <summary>
/// Adapters on disk in PEFT's layout, so they move between OpenDllm and Python (<c>PeftModel.from_pretrained</c>,
/// <c>model.save_pretrained</c>): a folder with <c>adapter_config.json</c> (<see cref="PeftAdapterConfig"/>) and
/// <c>adapter_model.safetensors</c> holding, per adapted projection at path P, <c>base_model.model.P.lora_A.weight</c>
/// [r, in] and <c>base_model.model.P.lora_B.weight</c> [out, r] (PEFT drops the adapter name "default" when saving).
/// For a Qwen2 model P is e.g. <c>model.layers.0.self_attn.q_proj</c>.
/// </summary>
public static class PeftAdapterIO
{
    /// <summary>The weights file PEFT writes (its pickle <c>adapter_model.bin</c> is not read).</summary>
    public const string WeightsFileName = "adapter_model.safetensors";

    /// <summary>The prefix PEFT's <c>PeftModel</c> → <c>LoraModel</c> wrapping adds to the base model's names.</summary>
    public const string KeyPrefix = "base_model.model.";

    /// <summary>PEFT's key of A (or B, <paramref name="b"/>) for the projection at <paramref name="path"/>.</summary>
    public static string Key(string path, bool b) => $"{KeyPrefix}{path}.lora_{(b ? 'B' : 'A')}.weight";

    /// <summary>
    /// Writes <paramref name="adapters"/> to <paramref name="directory"/> (created if needed; each file replaced atomically),
    /// in the adapters' dtype, with <paramref name="baseModel"/> recorded as <c>base_model_name_or_path</c>.
    /// </summary>
    public static void Save(LoraAdapters adapters, string directory, string? baseModel)
    {
        Directory.CreateDirectory(directory);
        var tensors = adapters.Entries.SelectMany(e => new[]
        {
            (Key(e.Target.Path, false), (Tensor)e.Adapter.A),
            (Key(e.Target.Path, true), (Tensor)e.Adapter.B),
        }).ToList();
        SafetensorsWriter.Save(Path.Combine(directory, WeightsFileName), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        AtomicFile.WriteAllText(Path.Combine(directory, PeftAdapterConfig.FileName),
            new PeftAdapterConfig(adapters.Options, baseModel).ToJson());
    }

    /// <summary>
    /// Reads the adapter in <paramref name="directory"/> and attaches it to <paramref name="model"/> (see
    /// <see cref="LoraAdapters.Attach"/>). Strict: every targeted projection must have both tensors with PEFT's shapes
    /// ([r, in] and [out, r]), and a tensor the config does not account for (an embedding adapter, a saved module) is an
    /// error naming it, never skipped. Weights are converted to the projections' dtype. On failure the model is left
    /// without adapters.
    /// </summary>
    public static LoraAdapters Load(nn.Module model, string directory, bool freezeBase = true)
    {
        var config = PeftAdapterConfig.Load(directory);
        var weights = Path.Combine(directory, WeightsFileName);
        if (!File.Exists(weights))
            throw new FileNotFoundException(File.Exists(Path.Combine(directory, "adapter_model.bin"))
                ? $"{directory}: only adapter_model.bin (pickle) found; OpenDllm reads {WeightsFileName} (save with safe_serialization=True)"
                : $"{directory}: no {WeightsFileName}", weights);
        LoraAdapters adapters;
        try { adapters = LoraAdapters.Attach(model, config.Options, freezeBase); }
        catch (ArgumentException e) { throw new InvalidDataException($"{Path.Combine(directory, PeftAdapterConfig.FileName)}: {e.Message}", e); }
        try
        {
            CopyTensors(adapters, weights);
            return adapters;
        }
        catch
        {
            adapters.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Copies the A and B tensors saved in <paramref name="directory"/> into <paramref name="adapters"/>, which must have
    /// been made with the same r, α, dropout and targets (checked against its adapter_config.json). For resuming training.
    /// </summary>
    public static void LoadWeightsInto(LoraAdapters adapters, string directory)
    {
        var config = PeftAdapterConfig.Load(directory);
        var mine = adapters.Options;
        if (!(config.Options with { Seed = mine.Seed }).Equals(mine))
            throw new InvalidDataException($"{Path.Combine(directory, PeftAdapterConfig.FileName)}: the adapter was made with r = {config.Options.Rank}, "
                + $"alpha = {config.Options.Alpha}, dropout = {config.Options.Dropout}, targets {string.Join(",", config.Options.Targets)}; "
                + $"the recipe asks for r = {mine.Rank}, alpha = {mine.Alpha}, dropout = {mine.Dropout}, targets {string.Join(",", mine.Targets)}");
        CopyTensors(adapters, Path.Combine(directory, WeightsFileName));
    }

    static void CopyTensors(LoraAdapters adapters, string weights)
    {
        using var file = SafetensorsFile.Open(weights);
        var expected = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (target, adapter) in adapters.Entries)
        {
            foreach (var (key, parameter) in new[] { (Key(target.Path, false), adapter.A), (Key(target.Path, true), adapter.B) })
            {
                expected.Add(key);
                if (!file.Contains(key))
                    throw new InvalidDataException($"{weights}: missing tensor '{key}' (target_modules selects {target.Path}, r = {adapter.Rank})");
                file.ReadInto(key, parameter);
            }
        }
        if (file.Entries.FirstOrDefault(e => !expected.Contains(e.Name)) is { } extra)
            throw new InvalidDataException($"{weights}: tensor '{extra.Name}' is not a LoRA A/B of a projection that adapter_config.json targets; "
                + "refusing to load an adapter partly");
    }

    /// <summary>SHA-256 over the adapter's config and weights (names and bytes): results name the exact adapter.</summary>
    public static string Hash(string directory)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var name in new[] { PeftAdapterConfig.FileName, WeightsFileName })
        {
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(name));
            using var stream = File.OpenRead(Path.Combine(directory, name));
            var buffer = new byte[1 << 20];
            int read;
            while ((read = stream.Read(buffer)) > 0) sha.AppendData(buffer.AsSpan(0, read));
        }
        return Convert.ToHexString(sha.GetHashAndReset()).ToLowerInvariant();
    }
}

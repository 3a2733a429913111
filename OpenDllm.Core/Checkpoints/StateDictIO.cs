using OpenDllm.IO;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Checkpoints;

/// <summary>
/// Loads and saves any <see cref="nn.Module"/>'s <c>state_dict()</c> as a Hugging Face safetensors folder
/// (single file or shards + index). Module-agnostic: keys are whatever the module's state dict names them.
/// </summary>
public static class StateDictIO
{
    /// <summary>
    /// Copies the checkpoint in <paramref name="directory"/> into <paramref name="module"/>'s parameters and buffers,
    /// converting dtypes (a BF16 file into an FP32 module is exact). Keys and shapes are checked before anything is
    /// copied; a mismatch throws <see cref="CheckpointMismatchException"/> listing every problem. A tensor holding NaN or
    /// ±Inf is an <see cref="InvalidDataException"/> naming it, unless <see cref="StateDictLoadOptions.AllowNonFinite"/>.
    /// </summary>
    public static StateDictLoadReport Load(nn.Module module, string directory, StateDictLoadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        options ??= new StateDictLoadOptions();
        using var checkpoint = SafetensorsCheckpoint.Open(directory);
        var ignored = new HashSet<string>(options.IgnoredCheckpointKeys, StringComparer.Ordinal);
        var state = module.state_dict();

        var missing = state.Keys.Where(k => !ignored.Contains(k) && !checkpoint.Contains(k)).ToList();
        var unexpected = checkpoint.Names.Where(k => !ignored.Contains(k) && !state.ContainsKey(k)).ToList();
        var shapes = new List<ShapeMismatch>();
        var toLoad = new List<string>();
        foreach (var (key, tensor) in state)
        {
            if (ignored.Contains(key) || !checkpoint.Contains(key)) continue;
            var found = checkpoint.GetEntry(key).Shape;
            if (!found.AsSpan().SequenceEqual(tensor.shape)) shapes.Add(new ShapeMismatch(key, tensor.shape, found));
            else toLoad.Add(key);
        }
        if (shapes.Count > 0 || (missing.Count > 0 && !options.AllowMissing) || (unexpected.Count > 0 && !options.AllowUnexpected))
            throw new CheckpointMismatchException(checkpoint.Directory, missing, unexpected, shapes);

        foreach (var key in toLoad)
        {
            using var scope = torch.NewDisposeScope();
            checkpoint.ReadInto(key, state[key]);
            if (!options.AllowNonFinite) RequireFinite(state[key], key, checkpoint.Directory);
        }
        var ignoredPresent = ignored.Where(k => state.ContainsKey(k) || checkpoint.Contains(k)).Order(StringComparer.Ordinal).ToList();
        return new StateDictLoadReport(toLoad, missing, unexpected, ignoredPresent);
    }

    /// <summary>
    /// Throws <see cref="InvalidDataException"/> naming the tensor and the folder when a floating-point tensor holds NaN
    /// or ±Inf (one <c>isfinite</c> pass per tensor).
    /// </summary>
    static void RequireFinite(Tensor tensor, string key, string directory)
    {
        if (!tensor.is_floating_point()) return;
        using var finite = tensor.isfinite();
        if (finite.all().item<bool>()) return;
        using var bad = finite.logical_not().sum();
        throw new InvalidDataException($"{directory}: tensor '{key}' holds {bad.item<long>()} non-finite value(s) (NaN or ±Inf)");
    }

    /// <summary>
    /// Writes <paramref name="module"/>'s state dict into <paramref name="directory"/> (created if needed) as
    /// <c>model.safetensors</c>, or as shards + index when <see cref="StateDictSaveOptions.MaxShardBytes"/> is exceeded.
    /// Each file is written atomically, and no file is deleted. Refuses (<see cref="IOException"/>, before writing) when
    /// the folder already holds the other layout: a stale file would make the folder ambiguous, and a stale
    /// <c>model.safetensors</c> would shadow new shards on load.
    /// </summary>
    /// <returns>The paths written, index last.</returns>
    public static IReadOnlyList<string> Save(nn.Module module, string directory, StateDictSaveOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        options ??= new StateDictSaveOptions();
        if (options.MaxShardBytes is <= 0) throw new ArgumentOutOfRangeException(nameof(options), "MaxShardBytes must be positive");
        directory = Path.GetFullPath(directory);
        var omit = new HashSet<string>(options.OmitKeys, StringComparer.Ordinal);
        var tensors = module.state_dict().Where(kv => !omit.Contains(kv.Key)).Select(kv => (kv.Key, kv.Value)).ToList();
        var metadata = new Dictionary<string, string>(options.Metadata ?? new Dictionary<string, string>(), StringComparer.Ordinal) { ["format"] = "pt" };

        var shards = Partition(tensors, options);
        bool sharded = shards.Count > 1;
        var single = Path.Combine(directory, SafetensorsCheckpoint.SingleFileName);
        var index = Path.Combine(directory, SafetensorsCheckpoint.IndexFileName);
        var conflicting = sharded ? single : index;
        if (File.Exists(conflicting))
            throw new IOException($"{directory}: already holds {Path.GetFileName(conflicting)} from a {(sharded ? "single-file" : "sharded")} save, which would shadow this one; remove it or save elsewhere");
        Directory.CreateDirectory(directory);

        var written = new List<string>();
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        long totalSize = 0;
        for (int i = 0; i < shards.Count; i++)
        {
            var path = sharded ? Path.Combine(directory, $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors") : single;
            using var scope = torch.NewDisposeScope();
            var converted = shards[i].Select(t => (t.Name, Convert(t.Tensor, options.DType))).ToList();
            SafetensorsWriter.Save(path, converted, metadata);
            foreach (var (name, tensor) in converted)
            {
                weightMap[name] = Path.GetFileName(path);
                totalSize += SafetensorsWriter.ByteSize(tensor);
            }
            written.Add(path);
        }
        if (sharded)
        {
            AtomicFile.Write(index, stream => WriteIndex(stream, totalSize, weightMap));
            written.Add(index);
        }
        return written;
    }

    static List<List<(string Name, Tensor Tensor)>> Partition(List<(string Name, Tensor Tensor)> tensors, StateDictSaveOptions options)
    {
        var shards = new List<List<(string, Tensor)>> { new() };
        if (options.MaxShardBytes is not long limit) { shards[0].AddRange(tensors); return shards; }
        long current = 0;
        foreach (var item in tensors)
        {
            long size = item.Tensor.numel() * SafetensorsDTypes.FromScalarType(StoredType(item.Tensor, options.DType)).ElementSize();
            if (shards[^1].Count > 0 && current + size > limit)
            {
                shards.Add([]);
                current = 0;
            }
            shards[^1].Add(item);
            current += size;
        }
        return shards;
    }

    static ScalarType StoredType(Tensor tensor, ScalarType? dtype) =>
        dtype is ScalarType target && tensor.is_floating_point() ? target : tensor.dtype;

    static Tensor Convert(Tensor tensor, ScalarType? dtype)
    {
        var target = StoredType(tensor, dtype);
        return target == tensor.dtype ? tensor : tensor.detach().to(target);
    }

    static void WriteIndex(Stream stream, long totalSize, SortedDictionary<string, string> weightMap)
    {
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteStartObject("metadata");
        json.WriteNumber("total_size", totalSize);
        json.WriteEndObject();
        json.WriteStartObject("weight_map");
        foreach (var (name, file) in weightMap) json.WriteString(name, file);
        json.WriteEndObject();
        json.WriteEndObject();
    }
}

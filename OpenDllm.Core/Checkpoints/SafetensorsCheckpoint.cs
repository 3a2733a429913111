using System.Text.Json;
using static TorchSharp.torch;

namespace OpenDllm.Checkpoints;

/// <summary>
/// A Hugging Face checkpoint folder: either one <c>model.safetensors</c>, or shards listed by
/// <c>model.safetensors.index.json</c> (<c>{"metadata": {…}, "weight_map": {"name": "model-00001-of-00002.safetensors"}}</c>).
/// Like transformers, a single <c>model.safetensors</c> is preferred when both exist. All shards stay mapped until
/// <see cref="Dispose"/>.
/// </summary>
public sealed class SafetensorsCheckpoint : IDisposable
{
    /// <summary>File name of an unsharded checkpoint.</summary>
    public const string SingleFileName = "model.safetensors";

    /// <summary>File name of the shard index.</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    readonly Dictionary<string, SafetensorsFile> _owner;
    readonly List<SafetensorsFile> _files;

    SafetensorsCheckpoint(string directory, string? indexPath, List<SafetensorsFile> files,
        Dictionary<string, SafetensorsFile> owner, IReadOnlyDictionary<string, string> metadata)
    {
        Directory = directory;
        IndexPath = indexPath;
        _files = files;
        _owner = owner;
        Metadata = metadata;
    }

    /// <summary>The checkpoint folder.</summary>
    public string Directory { get; }

    /// <summary>The index file when sharded, else null.</summary>
    public string? IndexPath { get; }

    /// <summary>The open files (one, or one per shard).</summary>
    public IReadOnlyList<SafetensorsFile> Files => _files;

    /// <summary>The index's <c>metadata</c> (values as JSON text when not strings), or the single file's <c>__metadata__</c>.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>All tensor names, ordinal order.</summary>
    public IEnumerable<string> Names => _owner.Keys.Order(StringComparer.Ordinal);

    /// <summary>Whether the checkpoint holds tensor <paramref name="name"/>.</summary>
    public bool Contains(string name) => _owner.ContainsKey(name);

    /// <summary>The description of tensor <paramref name="name"/>.</summary>
    public SafetensorsEntry GetEntry(string name) => FileOf(name).GetEntry(name);

    /// <summary>Reads a tensor; see <see cref="SafetensorsFile.Read"/>.</summary>
    public Tensor Read(string name, ScalarType? dtype = null, Device? device = null) => FileOf(name).Read(name, dtype, device);

    /// <summary>Copies a tensor into <paramref name="destination"/>; see <see cref="SafetensorsFile.ReadInto"/>.</summary>
    public void ReadInto(string name, Tensor destination) => FileOf(name).ReadInto(name, destination);

    SafetensorsFile FileOf(string name) =>
        _owner.TryGetValue(name, out var file) ? file : throw new KeyNotFoundException($"{Directory}: checkpoint has no tensor named '{name}'");

    /// <summary>
    /// Opens the checkpoint in <paramref name="directory"/> (headers only; tensor data stays mapped, unread). A folder
    /// without the files raises <see cref="FileNotFoundException"/>, one that cannot be listed
    /// <see cref="UnauthorizedAccessException"/> ("permission denied"). A shard that is missing raises
    /// <see cref="FileNotFoundException"/> naming the index and the shard; a tensor the index places in a shard that
    /// lacks it, or a malformed index, raises <see cref="InvalidDataException"/>.
    /// </summary>
    public static SafetensorsCheckpoint Open(string directory)
    {
        directory = Path.GetFullPath(directory);
        var single = Path.Combine(directory, SingleFileName);
        var index = Path.Combine(directory, IndexFileName);
        if (File.Exists(single))
        {
            var file = SafetensorsFile.Open(single);
            var owner = file.Entries.ToDictionary(e => e.Name, _ => file, StringComparer.Ordinal);
            return new SafetensorsCheckpoint(directory, null, [file], owner, file.Metadata);
        }
        if (File.Exists(index)) return OpenSharded(directory, index);
        try
        {
            _ = System.IO.Directory.EnumerateFileSystemEntries(directory).FirstOrDefault();
        }
        catch (UnauthorizedAccessException e)
        {
            throw new UnauthorizedAccessException($"{directory}: permission denied: cannot list the checkpoint folder", e);
        }
        catch (DirectoryNotFoundException e)
        {
            throw new FileNotFoundException($"{directory}: checkpoint folder not found", single, e);
        }
        throw new FileNotFoundException($"{directory}: no {SingleFileName} or {IndexFileName}", single);
    }

    static SafetensorsCheckpoint OpenSharded(string directory, string indexPath)
    {
        var (metadata, weightMap) = ReadIndex(indexPath);
        var files = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        try
        {
            var owner = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
            foreach (var (tensor, shard) in weightMap)
            {
                if (!files.TryGetValue(shard, out var file))
                {
                    var shardPath = Path.Combine(directory, shard);
                    if (!File.Exists(shardPath))
                        throw new FileNotFoundException($"{indexPath}: shard '{shard}' (listed for tensor '{tensor}') does not exist", shardPath);
                    files[shard] = file = SafetensorsFile.Open(shardPath);
                }
                if (!file.Contains(tensor))
                    throw new InvalidDataException($"{indexPath}: tensor '{tensor}' is mapped to shard '{shard}', but {file.Path} does not contain it");
                owner[tensor] = file;
            }
            return new SafetensorsCheckpoint(directory, indexPath, [.. files.Values], owner, metadata);
        }
        catch
        {
            foreach (var file in files.Values) file.Dispose();
            throw;
        }
    }

    static (Dictionary<string, string> Metadata, List<(string Tensor, string Shard)> WeightMap) ReadIndex(string indexPath)
    {
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{indexPath}: expected an object with a \"weight_map\" object");
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            if (root.TryGetProperty("metadata", out var meta) && meta.ValueKind == JsonValueKind.Object)
                foreach (var item in meta.EnumerateObject())
                    metadata[item.Name] = item.Value.ValueKind == JsonValueKind.String ? item.Value.GetString()! : item.Value.GetRawText();
            var weightMap = new List<(string, string)>();
            foreach (var item in map.EnumerateObject())
            {
                var shard = item.Value.ValueKind == JsonValueKind.String ? item.Value.GetString()! : null;
                // Shards are plain file names beside the index; anything else could read outside the folder.
                if (string.IsNullOrEmpty(shard) || shard != Path.GetFileName(shard) || shard is "." or "..")
                    throw new InvalidDataException($"{indexPath}: tensor '{item.Name}' maps to {item.Value.GetRawText()}, not a file name in the same folder");
                weightMap.Add((item.Name, shard));
            }
            return (metadata, weightMap);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{indexPath}: not valid JSON: {e.Message}", e);
        }
    }

    /// <summary>Unmaps every file.</summary>
    public void Dispose()
    {
        foreach (var file in _files) file.Dispose();
    }
}

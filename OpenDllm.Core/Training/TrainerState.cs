using System.Text.Json;
using OpenDllm.Config;
using OpenDllm.Data;
using OpenDllm.IO;

namespace OpenDllm.Training;

/// <summary>
/// Everything besides weights and optimizer moments that an exact resume needs: step, planned total steps, the data
/// cursor, the state of the masking RNG, and identities to refuse an incompatible checkpoint.
/// </summary>
public sealed record TrainerState
{
    public const string FileName = "trainer_state.json";

    public long Step { get; init; }
    public long TotalSteps { get; init; }
    public long TokensSeen { get; init; }
    public double ElapsedSeconds { get; init; }
    public required LoaderCursor Cursor { get; init; }
    /// <summary>torch.Generator state of the masking RNG, base64.</summary>
    public required string MaskingRng { get; init; }
    public required string Tokenizer { get; init; }
    public required string Objective { get; init; }
    public double? LastLoss { get; init; }
    /// <summary>Which token shards the run read (SHA-256 over their hashes); a resume on other data is refused. Null in older checkpoints.</summary>
    public string? DataSha256 { get; init; }
    /// <summary>LoRA runs: SHA-256 of the frozen base weights the adapter was trained on (<see cref="Lora.BaseWeights"/>); null = full fine-tuning.</summary>
    public string? LoraBaseSha256 { get; init; }
    /// <summary><c>train.freeze_layers</c> of the run (the optimizer state covers only the other parameters); null = none.</summary>
    public string? FreezeLayers { get; init; }

    static readonly JsonSerializerOptions Json = ConfigJson.Strict;

    public void Save(string directory) =>
        AtomicFile.WriteAllText(Path.Combine(directory, FileName), JsonSerializer.Serialize(this, Json));

    public static TrainerState Load(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path)) throw new InvalidDataException($"{directory}: not a training checkpoint ({FileName} missing)");
        try { return JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"{path}: empty"); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: damaged trainer state ({e.Message})", e); }
    }
}

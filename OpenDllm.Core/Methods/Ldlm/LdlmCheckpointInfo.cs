using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using OpenDllm.IO;

namespace OpenDllm.Methods.Ldlm;

/// <summary>
/// <c>ldlm.json</c> in an LDLM checkpoint: what the trained modules were trained against and what inference needs beside
/// them. The checkpoint holds only the trained modules (<see cref="LdlmModules"/>) and this reference to the frozen encoder
/// folder, never the encoder's weights; inference does not need the encoder at all.
/// </summary>
public sealed record LdlmCheckpointInfo
{
    /// <summary>The file name inside a checkpoint folder.</summary>
    public const string FileName = "ldlm.json";

    /// <summary>Format of this file (1).</summary>
    public int FormatVersion { get; init; } = 1;
    /// <summary>The frozen encoder's folder (absolute path; <c>model.init_from</c>), or null for an encoder built from a preset.</summary>
    public string? EncoderPath { get; init; }
    /// <summary>The preset the encoder was built from when it has no folder (then it is random: tests, throughput runs).</summary>
    public string? EncoderPreset { get; init; }
    /// <summary>The encoder's <c>model_type</c> (qwen2, bert, …).</summary>
    public string EncoderModelType { get; init; } = "";
    /// <summary>SHA-256 over the encoder folder's *.safetensors files (name and content), to tell the same weights from others.</summary>
    public string? EncoderWeightsSha256 { get; init; }
    /// <summary>The encoder hidden state the latents compress (non-negative index into the num_layers + 1 states).</summary>
    public int EncoderLayer { get; init; }
    /// <summary>Whether each token's hidden state was standardised (<c>train.ldlm.normalize_hidden</c>).</summary>
    public bool NormalizeHidden { get; init; } = true;
    /// <summary>Whether each dimension of h was standardised with statistics saved in <c>ldlm_state.json</c>.</summary>
    public bool StandardizeFeatures { get; init; }
    /// <summary>How the encoder attended.</summary>
    public EncoderAttention EncoderAttention { get; init; }
    /// <summary>d of the tan-d schedule the denoiser was trained with (SPEC §6.4).</summary>
    public double ScheduleD { get; init; } = 3.0;

    static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>True when <paramref name="directory"/> is an LDLM checkpoint.</summary>
    public static bool IsLdlmCheckpoint(string directory) => File.Exists(Path.Combine(directory, FileName));

    /// <summary>Writes <c>ldlm.json</c> into <paramref name="directory"/>.</summary>
    public void Save(string directory) => AtomicFile.WriteAllText(Path.Combine(directory, FileName), JsonSerializer.Serialize(this, Json));

    /// <summary>Reads <c>ldlm.json</c>; a missing or malformed file is an error naming it.</summary>
    public static LdlmCheckpointInfo Load(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: not found; {directory} is not an LDLM checkpoint (train one with train.objective: ldlm)", path);
        LdlmCheckpointInfo? info;
        try { info = JsonSerializer.Deserialize<LdlmCheckpointInfo>(File.ReadAllText(path), Json); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
        if (info is null) throw new InvalidDataException($"{path}: empty");
        if (info.FormatVersion != 1) throw new InvalidDataException($"{path}: format_version {info.FormatVersion} is not supported (this build reads 1)");
        if (!(info.ScheduleD > 0)) throw new InvalidDataException($"{path}: schedule_d = {info.ScheduleD} must be > 0");
        return info;
    }

    /// <summary>SHA-256 over the names and contents of <paramref name="directory"/>'s *.safetensors files, in name order.</summary>
    public static string WeightsSha256(string directory)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in Directory.GetFiles(directory, "*.safetensors").Order(StringComparer.Ordinal))
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(Path.GetFileName(file) + "\n"));
            using var stream = File.OpenRead(file);
            var buffer = new byte[1 << 20];
            int read;
            while ((read = stream.Read(buffer)) > 0) hash.AppendData(buffer, 0, read);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}

using System.Text.Json;
using OpenDllm.IO;
using OpenDllm.TimeSampling;
using static TorchSharp.torch;

namespace OpenDllm.Methods.Ldlm;

public sealed partial class LdlmMethod
{
    /// <summary>The adaptive sampler's state in a checkpoint (SPEC §6.5: its EMA is part of an exact resume).</summary>
    public const string StateFile = "ldlm_state.json";

    static readonly JsonSerializerOptions StateJson = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>The trained modules, <c>ldlm.json</c> (the encoder reference) and the adaptive sampler's state.</summary>
    public void Save(string directory)
    {
        BeginStep(_step, _totalSteps);            // fold what the last step recorded, so the saved EMA is the run's
        _modules.Save(directory);
        _info.Save(directory);
        if (_adaptive is not null)
            AtomicFile.WriteAllText(Path.Combine(directory, StateFile), JsonSerializer.Serialize(_adaptive.Sampler.SaveState(), StateJson));
    }

    /// <summary>Loads the trained modules and the sampler's state in place (the optimizer keeps its parameters).</summary>
    public void Load(string directory)
    {
        var info = LdlmCheckpointInfo.Load(directory);
        if (info.EncoderWeightsSha256 != _info.EncoderWeightsSha256 || info.EncoderLayer != _info.EncoderLayer || info.NormalizeHidden != _info.NormalizeHidden)
            throw new InvalidDataException($"{directory}: trained against another encoder (weights {info.EncoderWeightsSha256 ?? info.EncoderPreset ?? "?"}, "
                + $"layer {info.EncoderLayer}) than this recipe's ({_info.EncoderWeightsSha256 ?? _info.EncoderPreset ?? "?"}, layer {_info.EncoderLayer}); "
                + "choose another train.output_dir");
        _modules.LoadWeights(directory);
        if (_adaptive is null) return;
        var path = Path.Combine(directory, StateFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: missing (the adaptive time sampler's state of this checkpoint)", path);
        AdaptiveTimestepSamplerState? state;
        try { state = JsonSerializer.Deserialize<AdaptiveTimestepSamplerState>(File.ReadAllText(path), StateJson); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
        _adaptive.Restore(state ?? throw new InvalidDataException($"{path}: empty"));
    }

    /// <summary>Finite weights and a finite probe: encode and decode the token ids 0..L−1, and one denoiser call.</summary>
    public string? CheckHealth()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var a = _modules.Architecture;
        var device = Model.HeadWeight.device;
        var probe = (arange(a.Length, dtype: ScalarType.Int64, device: device) % a.VocabSize).unsqueeze(0);   // [1, L]
        var keep = ones_like(probe, dtype: ScalarType.Bool);
        var h = Encoder.HiddenStates(new Models.ModelInput(probe, Encoder.Attention));
        var z = _modules.Encoder.Encode(h, keep);
        var logits = _modules.Logits(z);
        var x0 = _modules.Denoiser.PredictX0(z, full(1, 0.5, dtype: ScalarType.Float32, device: device), zeros_like(z));
        bool finite = logits.isfinite().all().item<bool>() && x0.isfinite().all().item<bool>();
        return finite ? null : "the trained modules give non-finite logits or latents on a probe";
    }
}

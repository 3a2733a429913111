using System.Text.Json;
using OpenDllm.IO;
using OpenDllm.TimeSampling;
using static TorchSharp.torch;

namespace OpenDllm.Methods.Ldlm;

public sealed partial class LdlmMethod
{
    /// <summary>The method's state in a checkpoint: the adaptive sampler's EMA (SPEC §6.5) and the encoder's per-dimension
    /// statistics, both part of an exact resume.</summary>
    public const string StateFile = "ldlm_state.json";

    /// <summary>What <see cref="StateFile"/> holds.</summary>
    public sealed record LdlmState(AdaptiveTimestepSamplerState? Adaptive, double[]? HiddenMean, double[]? HiddenStd);

    static readonly JsonSerializerOptions StateJson = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>The trained modules, <c>ldlm.json</c> (the encoder reference) and the adaptive sampler's state.</summary>
    public void Save(string directory)
    {
        BeginStep(_step, _totalSteps);            // fold what the last step recorded, so the saved EMA is the run's
        _modules.Save(directory);
        _info.Save(directory);
        var state = new LdlmState(_adaptive?.Sampler.SaveState(), Doubles(Encoder.FeatureMean), Doubles(Encoder.FeatureStd));
        AtomicFile.WriteAllText(Path.Combine(directory, StateFile), JsonSerializer.Serialize(state, StateJson));
    }

    /// <summary>Loads the trained modules and the sampler's state in place (the optimizer keeps its parameters).</summary>
    public void Load(string directory)
    {
        var info = LdlmCheckpointInfo.Load(directory);
        if (info.EncoderWeightsSha256 != _info.EncoderWeightsSha256 || info.EncoderLayer != _info.EncoderLayer || info.NormalizeHidden != _info.NormalizeHidden || info.StandardizeFeatures != _info.StandardizeFeatures)
            throw new InvalidDataException($"{directory}: trained against another encoder (weights {info.EncoderWeightsSha256 ?? info.EncoderPreset ?? "?"}, "
                + $"layer {info.EncoderLayer}) than this recipe's ({_info.EncoderWeightsSha256 ?? _info.EncoderPreset ?? "?"}, layer {_info.EncoderLayer}); "
                + "choose another train.output_dir");
        _modules.LoadWeights(directory);
        var path = Path.Combine(directory, StateFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: missing (the adaptive sampler's and the encoder statistics' state of this checkpoint)", path);
        LdlmState? state;
        try { state = JsonSerializer.Deserialize<LdlmState>(File.ReadAllText(path), StateJson); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
        if (state is null) throw new InvalidDataException($"{path}: empty");
        if (_adaptive is not null)
            _adaptive.Restore(state.Adaptive ?? throw new InvalidDataException($"{path}: no adaptive sampler state, but train.ldlm.time_sampler is adaptive"));
        if (state.HiddenMean is { } mean && state.HiddenStd is { } std)
        {
            if (mean.Length != Encoder.HiddenSize || std.Length != Encoder.HiddenSize)
                throw new InvalidDataException($"{path}: hidden_mean/hidden_std have {mean.Length}/{std.Length} entries for an encoder of width {Encoder.HiddenSize}");
            Encoder.Calibrate(tensor(mean), tensor(std));
        }
        else if (Options.StandardizeFeatures)
            throw new InvalidDataException($"{path}: no hidden_mean/hidden_std, but train.ldlm.standardize_features is on");
    }

    static double[]? Doubles(Tensor? x) => x?.detach().to(ScalarType.Float64).cpu().data<double>().ToArray();

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

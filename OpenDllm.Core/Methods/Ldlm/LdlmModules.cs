using System.Text.Json;
using System.Text.Json.Nodes;
using OpenDllm.Checkpoints;
using OpenDllm.Config;
using OpenDllm.IO;
using OpenDllm.Modules.Dit;
using OpenDllm.Sampling;
using OpenDllm.Sampling.Latent;
using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace OpenDllm.Methods.Ldlm;

/// <summary>
/// LDLM's trained modules (SPEC §6.1 items 2–4), built from one <see cref="LdlmArchitecture"/>: the Perceiver
/// <see cref="Encoder"/> (h → z), the Perceiver <see cref="Decoder"/> (z → ĥ), the <see cref="TokenDecoder"/>
/// (ĥ → logits) and the DiT <see cref="Denoiser"/> on z. The frozen LM that produces h is not part of it. As an
/// <see cref="ILatentDecoder"/>, <c>Logits(z) = TokenDecoder(Decoder.DecodeHidden(z))</c>.
/// <para>
/// Every weight comes from <c>seed</c>: the four modules are initialised in the order encoder, decoder, token decoder,
/// denoiser from one seeded CPU generator (<see cref="SeededDraws"/>), so the same seed gives identical weights on every
/// call and device. (Building TorchSharp's <c>nn.Linear</c> layers draws their default initialisation from libtorch's
/// global generator before it is overwritten; those values are never used.) Dropout (<see cref="LdlmArchitecture.Dropout"/>
/// &gt; 0, training mode only) draws its masks from libtorch's global generator, as TorchSharp's dropout offers no other;
/// with the default 0 a training step has no draw of its own here.
/// </para>
/// Parameter names are prefixed <c>encoder.</c>, <c>decoder.</c>, <c>token_decoder.</c>, <c>denoiser.</c>, e.g.
/// <c>encoder.layers.0.attention.q_norm.weight</c>. A saved folder holds <see cref="WeightsFileName"/> (float32
/// safetensors) and <see cref="ArchitectureFileName"/> (snake_case JSON of the architecture).
/// </summary>
public sealed class LdlmModules : nn.Module, ILatentDecoder
{
    /// <summary>The weights file <see cref="Save"/> writes.</summary>
    public const string WeightsFileName = "ldlm.safetensors";

    /// <summary>The architecture file <see cref="Save"/> writes.</summary>
    public const string ArchitectureFileName = "ldlm_architecture.json";

    [ComponentName(Name = "encoder")] readonly LatentEncoder _encoder;
    [ComponentName(Name = "decoder")] readonly LatentDecoder _decoder;
    [ComponentName(Name = "token_decoder")] readonly TokenDecoder _tokenDecoder;
    [ComponentName(Name = "denoiser")] readonly DitDenoiser _denoiser;

    /// <summary>Builds the modules on <paramref name="device"/> (CPU by default) and initialises every weight from <paramref name="seed"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">the architecture fails <see cref="LdlmArchitecture.Validate"/>.</exception>
    public LdlmModules(LdlmArchitecture architecture, long seed, Device? device = null) : base(nameof(LdlmModules))
    {
        ArgumentNullException.ThrowIfNull(architecture);
        Architecture = architecture.Validate();
        _encoder = new LatentEncoder(architecture, device);
        _decoder = new LatentDecoder(architecture, device);
        _tokenDecoder = new TokenDecoder(architecture, device);
        _denoiser = new DitDenoiser(architecture.Latents, architecture.LatentDim, architecture.DitWidth, architecture.DitLayers,
                                    architecture.DitHeads, architecture.FfnMultiplier, architecture.Dropout, architecture.NormEps, device);
        RegisterComponents();
        Initialize(seed);
    }

    /// <summary>The shapes these modules were built from.</summary>
    public LdlmArchitecture Architecture { get; }

    /// <summary>The Perceiver encoder h [B, L, D] → z [B, K, d].</summary>
    public LatentEncoder Encoder => _encoder;

    /// <summary>The Perceiver decoder z [B, K, d] → ĥ [B, L, D].</summary>
    public LatentDecoder Decoder => _decoder;

    /// <summary>The token decoder ĥ [B, L, D] → logits [B, L, V].</summary>
    public TokenDecoder TokenDecoder => _tokenDecoder;

    /// <summary>The DiT x0-predictor on the latents.</summary>
    public DitDenoiser Denoiser => _denoiser;

    /// <inheritdoc/>
    public long Length => Architecture.Length;

    /// <inheritdoc/>
    public int VocabSize => Architecture.VocabSize;

    /// <inheritdoc/>
    public Tensor Logits(Tensor latents) => _tokenDecoder.forward(_decoder.DecodeHidden(latents));

    /// <summary>Re-initialises every weight from <paramref name="seed"/> (what the constructor does).</summary>
    public void Initialize(long seed)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var generator = SeededDraws.ForSeed(seed);
        _encoder.Initialize(generator);
        _decoder.Initialize(generator);
        _tokenDecoder.Initialize(generator);
        _denoiser.Initialize(generator);
    }

    /// <summary>
    /// Writes <see cref="WeightsFileName"/> and <see cref="ArchitectureFileName"/> into <paramref name="directory"/>
    /// (created if needed; each file replaced atomically, nothing else touched).
    /// </summary>
    public void Save(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        Directory.CreateDirectory(directory);
        SafetensorsWriter.Save(Path.Combine(directory, WeightsFileName),
                               state_dict().Select(kv => (kv.Key, kv.Value)),
                               new Dictionary<string, string> { ["format"] = "pt" });
        AtomicFile.WriteAllText(Path.Combine(directory, ArchitectureFileName), JsonSerializer.Serialize(Architecture, ConfigJson.Strict));
    }

    /// <summary>
    /// Rebuilds the modules saved by <see cref="Save"/> in <paramref name="directory"/> on <paramref name="device"/>.
    /// Strict: a missing, unexpected or misshaped tensor, a non-finite value, an absent file, malformed JSON, or an unknown,
    /// missing or out-of-range architecture field is an <see cref="InvalidDataException"/> (or
    /// <see cref="FileNotFoundException"/>) whose one-line message names the file and the key or field.
    /// </summary>
    public static LdlmModules Load(string directory, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var architecture = ReadArchitecture(Path.Combine(directory, ArchitectureFileName));
        var weights = Path.Combine(directory, WeightsFileName);
        if (!File.Exists(weights)) throw new FileNotFoundException($"{weights}: not found (an LDLM checkpoint folder holds {WeightsFileName} and {ArchitectureFileName})", weights);
        var modules = new LdlmModules(architecture, seed: 0, device);
        try
        {
            ReadWeights(modules, weights);
            return modules;
        }
        catch
        {
            modules.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loads the weights of <paramref name="directory"/> into these modules in place (a resume: the optimizer keeps its
    /// parameters). The saved architecture must equal <see cref="Architecture"/>; anything else is an error naming the field.
    /// </summary>
    public void LoadWeights(string directory)
    {
        var saved = ReadArchitecture(Path.Combine(directory, ArchitectureFileName));
        if (saved != Architecture)
            throw new InvalidDataException($"{Path.Combine(directory, ArchitectureFileName)}: other module shapes than this run's "
                + $"(saved {saved}, expected {Architecture}); choose another train.output_dir");
        var weights = Path.Combine(directory, WeightsFileName);
        if (!File.Exists(weights)) throw new FileNotFoundException($"{weights}: not found", weights);
        using var noGrad = no_grad();
        ReadWeights(this, weights);
    }

    /// <summary>The device the modules are on.</summary>
    public Device Device => _denoiser.OutputProjection.weight!.device;

    /// <summary>The architecture in <paramref name="path"/>: every field present, no unknown field, valid values.</summary>
    static LdlmArchitecture ReadArchitecture(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: not found (an LDLM checkpoint folder holds {WeightsFileName} and {ArchitectureFileName})", path);
        JsonNode? tree;
        try { tree = JsonNode.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message.Split('\n')[0]})", e); }
        if (tree is not JsonObject obj) throw new InvalidDataException($"{path}: expected a JSON object");
        var architecture = StrictBinder.Bind<LdlmArchitecture>(obj, path);                      // unknown field or wrong type
        // every field written by Save must be there: a default standing in for a lost field would silently change the shapes
        var missing = StrictBinder.KeysOf(typeof(LdlmArchitecture)).Where(k => !obj.ContainsKey(k)).ToList();
        if (missing.Count > 0) throw new InvalidDataException($"{path}: missing field '{missing[0]}'{(missing.Count > 1 ? $" (and {missing.Count - 1} more)" : "")}");
        try { return architecture.Validate(path, "ldlm_architecture"); }
        catch (ArgumentOutOfRangeException e)
        {
            var first = e.Message.Split('\n')[0];
            int suffix = first.LastIndexOf(" (Parameter '", StringComparison.Ordinal);
            throw new InvalidDataException(suffix > 0 ? first[..suffix] : first, e);
        }
    }

    /// <summary>Copies every tensor of <paramref name="path"/> into <paramref name="modules"/>, after checking names and shapes.</summary>
    static void ReadWeights(LdlmModules modules, string path)
    {
        using var file = SafetensorsFile.Open(path);
        var state = modules.state_dict();
        var missing = state.Keys.Where(k => !file.Contains(k)).ToList();
        if (missing.Count > 0)
            throw new InvalidDataException($"{path}: missing tensor '{missing[0]}'{(missing.Count > 1 ? $" (and {missing.Count - 1} more)" : "")}");
        var unexpected = file.Entries.Select(e => e.Name).Where(n => !state.ContainsKey(n)).ToList();
        if (unexpected.Count > 0)
            throw new InvalidDataException($"{path}: unexpected tensor '{unexpected[0]}'{(unexpected.Count > 1 ? $" (and {unexpected.Count - 1} more)" : "")}");
        foreach (var (key, tensor) in state)
        {
            var found = file.GetEntry(key).Shape;
            if (!found.AsSpan().SequenceEqual(tensor.shape))
                throw new InvalidDataException($"{path}: tensor '{key}' has shape {SafetensorsEntry.FormatShape(found)}, expected {SafetensorsEntry.FormatShape(tensor.shape)}");
        }
        foreach (var (key, tensor) in state)
        {
            using var scope = NewDisposeScope();
            file.ReadInto(key, tensor);
            if (!tensor.isfinite().all().item<bool>())
                throw new InvalidDataException($"{path}: tensor '{key}' holds non-finite values (NaN or ±Inf)");
        }
    }
}

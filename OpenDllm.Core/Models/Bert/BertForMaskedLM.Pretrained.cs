using OpenDllm.Checkpoints;
using static TorchSharp.torch;

namespace OpenDllm.Models.Bert;

/// <summary>What <see cref="BertForMaskedLM.FromPretrained"/> did, key by key.</summary>
/// <param name="Loaded">state-dict keys read from the checkpoint.</param>
/// <param name="Initialized">state-dict keys the checkpoint lacks and that were freshly initialised from the seed (the MLM head
/// of a plain BertModel checkpoint).</param>
/// <param name="Ignored">checkpoint keys not read, each with the reason.</param>
public sealed record BertLoadReport(IReadOnlyList<string> Loaded, IReadOnlyList<string> Initialized,
                                    IReadOnlyList<(string Key, string Reason)> Ignored)
{
    /// <summary>One line per kind of event, for logs, e.g. <c>initialised from seed 0: cls.predictions.bias, …</c>.</summary>
    public IEnumerable<string> Notes(long seed)
    {
        yield return $"loaded {Loaded.Count} tensors";
        if (Initialized.Count > 0) yield return $"initialised from seed {seed} (not in the checkpoint): {string.Join(", ", Initialized)}";
        foreach (var (key, reason) in Ignored) yield return $"ignored {key}: {reason}";
    }
}

public sealed partial class BertForMaskedLM
{
    const string WordEmbeddingsKey = "bert.embeddings.word_embeddings.weight";

    long _initSeed;

    /// <summary>What the last <see cref="FromPretrained"/> did; null for a model built in code.</summary>
    public BertLoadReport? LoadReport { get; private set; }

    /// <summary>
    /// Loads a Hugging Face BERT directory (<c>config.json</c> with <c>model_type: bert</c>, <c>model.safetensors</c> or shards):
    /// a BertForMaskedLM checkpoint, or a plain BertModel one (keys without <c>bert.</c>, e.g. sentence-transformers). Key
    /// mapping: <see cref="BertCheckpointKeys"/>. The MLM head (<c>cls.predictions.*</c>) may be absent, in part or whole: the
    /// missing tensors are initialised from <paramref name="initSeed"/> by <see cref="InitializeWeights"/>'s rule (dLLM's
    /// BERT → diffusion recipe: a new transform layer, the decoder tied to the word embeddings) and listed in
    /// <see cref="LoadReport"/>. Every encoder tensor must be present with the right shape (else
    /// <see cref="CheckpointMismatchException"/> listing all problems); a NaN/Inf weight is an error naming it. Weights are
    /// converted to <paramref name="dtype"/> (default float32). The model is returned in eval mode, as transformers does:
    /// <c>train()</c> turns on the config's dropout (hidden_dropout_prob, attention_probs_dropout_prob).
    /// </summary>
    public static BertForMaskedLM FromPretrained(string directory, Device? device = null, ScalarType? dtype = null, long initSeed = 0)
    {
        var config = BertConfig.Load(directory);
        var model = new BertForMaskedLM(config, device, dtype ?? ScalarType.Float32);
        try
        {
            model.LoadReport = model.LoadCheckpoint(directory, initSeed);
            model._initSeed = initSeed;
            model.eval();                                  // as transformers' from_pretrained: dropout off until train()
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    BertLoadReport LoadCheckpoint(string directory, long initSeed)
    {
        using var checkpoint = SafetensorsCheckpoint.Open(directory);
        var state = state_dict();
        var source = new Dictionary<string, string>(StringComparer.Ordinal);          // model key → checkpoint key
        var ignored = new List<(string, string)>();
        var unexpected = new List<string>();
        foreach (var name in checkpoint.Names)
        {
            if (BertCheckpointKeys.IgnoredReason(name) is { } reason) { ignored.Add((name, reason)); continue; }
            var key = BertCheckpointKeys.ModelKey(name);
            if (!state.ContainsKey(key)) unexpected.Add(name);
            else if (!source.TryAdd(key, name))
                throw new InvalidDataException($"{checkpoint.Directory}: both {source[key]} and {name} map to {key}; keep one of them");
        }
        var missing = state.Keys.Where(k => !source.ContainsKey(k)).ToList();
        var shapes = source.Where(kv => !checkpoint.GetEntry(kv.Value).Shape.AsSpan().SequenceEqual(state[kv.Key].shape))
                           .Select(kv => new ShapeMismatch(kv.Value, state[kv.Key].shape, checkpoint.GetEntry(kv.Value).Shape)).ToList();
        var fatalMissing = missing.Where(k => !BertCheckpointKeys.IsMlmHead(k)).ToList();
        if (fatalMissing.Count > 0 || unexpected.Count > 0 || shapes.Count > 0)
            throw new CheckpointMismatchException(checkpoint.Directory, fatalMissing, unexpected, shapes);

        using (no_grad())
            foreach (var (key, name) in source)
            {
                using var scope = NewDisposeScope();
                checkpoint.ReadInto(name, state[key]);
                RequireFinite(state[key], name, checkpoint.Directory);
            }
        InitializeParameters(named_parameters().Where(p => missing.Contains(p.name)).Select(p => (p.name, (Tensor)p.parameter)), initSeed, Config.InitializerRange);
        CheckTiedCopy(checkpoint, BertCheckpointKeys.TiedDecoderWeight, HeadWeight);
        CheckTiedCopy(checkpoint, BertCheckpointKeys.TiedDecoderBias, HeadBias);
        return new BertLoadReport(source.Keys.ToList(), missing, ignored);
    }

    /// <summary>A checkpoint's copy of a tied tensor must equal it: otherwise transformers and this model would disagree.</summary>
    static void CheckTiedCopy(SafetensorsCheckpoint checkpoint, string name, Tensor tiedTo)
    {
        if (!checkpoint.Contains(name)) return;
        using var scope = NewDisposeScope();
        var copy = checkpoint.Read(name, tiedTo.dtype, tiedTo.device);
        if (copy.shape.SequenceEqual(tiedTo.shape) && copy.eq(tiedTo).all().item<bool>()) return;
        throw new InvalidDataException($"{checkpoint.Directory}: {name} is tied but differs from the tensor it is tied to; remove it from the checkpoint");
    }

    static void RequireFinite(Tensor tensor, string key, string directory)
    {
        if (!tensor.is_floating_point() || tensor.isfinite().all().item<bool>()) return;
        throw new InvalidDataException($"{directory}: tensor '{key}' holds non-finite value(s) (NaN or ±Inf)");
    }

    /// <summary>
    /// Writes <c>config.json</c> and <c>model.safetensors</c> (or shards above <paramref name="maxShardBytes"/>) with the HF
    /// BertForMaskedLM names; the tied decoder is not written, as transformers omits it. Optionally as <paramref name="dtype"/>;
    /// <c>torch_dtype</c> names the dtype actually written. Reloading with <see cref="FromPretrained"/> is bit-exact.
    /// </summary>
    public void SavePretrained(string directory, ScalarType? dtype = null, long? maxShardBytes = null)
    {
        var d = dtype ?? HeadWeight.dtype;
        StateDictIO.Save(this, directory, new StateDictSaveOptions { DType = dtype, MaxShardBytes = maxShardBytes });
        (Config with { TorchDtype = d switch { ScalarType.BFloat16 => "bfloat16", ScalarType.Float16 => "float16", ScalarType.Float64 => "float64", _ => "float32" } })
            .Save(directory);
    }

    /// <summary>Writes the model in its parameters' dtype, unsharded (see the overload).</summary>
    public override void SavePretrained(string directory) => SavePretrained(directory, dtype: null);
}

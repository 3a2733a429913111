using OpenDllm.Attention;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Models;

/// <summary>
/// What the trainer, its methods, the pipelines and the samplers need of a model, whatever its architecture: a forward
/// under an explicit attention policy, the input of the LM head (so losses apply it in chunks), the diffusion settings
/// (mask id, shifted logits), mixed precision and Hugging Face save. <see cref="Qwen2Model"/> (Qwen2/2.5, Open-dCoder) and
/// the BERT family are the implementations; <see cref="PretrainedModels.Load"/> opens either from a checkpoint folder by
/// its <c>config.json</c>'s <c>model_type</c>. A method or sampler written against this class runs on every model.
/// </summary>
public abstract class LanguageModel : nn.Module<ModelInput, ModelOutput>
{
    protected LanguageModel(string name) : base(name) { }

    /// <summary>Hugging Face's <c>model_type</c> of the saved config (<c>qwen2</c>, <c>bert</c>).</summary>
    public abstract string ModelType { get; }

    /// <summary>Rows of the embedding and of the logits' last dimension.</summary>
    public abstract int VocabSize { get; }

    /// <summary>The longest sequence the model's positions cover (<c>max_position_embeddings</c>).</summary>
    public abstract int MaxPositions { get; }

    /// <summary>The diffusion <c>[MASK]</c> id recorded in the config, or null when the config names none.</summary>
    public abstract long? MaskTokenId { get; }

    /// <summary>Dream-style shifted logits: the output at position i predicts token i + 1 (SPEC §2.3).</summary>
    public abstract bool ShiftedLogits { get; }

    /// <summary>Whether <see cref="ModelInput.Cache"/> and <see cref="ModelInput.ReturnCache"/> are supported (Fast-dLLM, block decoding).</summary>
    public virtual bool SupportsKvCache => false;

    /// <summary>The output projection's weight [V, D]: the embedding matrix when tied.</summary>
    public abstract Tensor HeadWeight { get; }

    ScalarType? _computeDtype;

    /// <summary>
    /// The dtype the forward computes in while parameters keep their own (mixed precision); null = the parameters' dtype.
    /// Setting it checks the dtype (<see cref="Modules.ComputePrecision.Check"/>) and hands it to every submodule that
    /// computes (<see cref="Modules.IComputeDtype"/>); each architecture documents what runs in it.
    /// </summary>
    public ScalarType? ComputeDtype
    {
        get => _computeDtype;
        set
        {
            _computeDtype = Modules.ComputePrecision.Check(value);
            foreach (var module in modules())
                if (module is Modules.IComputeDtype m) m.ComputeDtype = value;
        }
    }

    /// <summary>
    /// Overrides the logit alignment from outside the checkpoint (<c>--shifted</c>); an architecture whose config records
    /// where the alignment came from (Qwen2) notes it as an override. Returns this model.
    /// </summary>
    public virtual LanguageModel WithShiftedLogitsOverride(bool shiftedLogits) => WithDiffusionSettings(shiftedLogits: shiftedLogits);

    /// <summary>
    /// The forward without the output projection: the hidden states the head is applied to [B, Lq, D], the head weight
    /// [V, D] and its bias when it has one, so a loss forms logits a chunk of rows at a time
    /// (<see cref="Objectives.ChunkedCrossEntropy"/>).
    /// </summary>
    public abstract HeadInput ForwardToHead(ModelInput input);

    /// <summary>Writes <c>config.json</c> and <c>model.safetensors</c> with the Hugging Face names, as transformers would.</summary>
    public abstract void SavePretrained(string directory);

    /// <summary>
    /// Sets the diffusion fields of the config that do not change the architecture: the <c>[MASK]</c> id and the
    /// logit alignment. A null argument keeps the current value. Returns this model.
    /// </summary>
    public abstract LanguageModel WithDiffusionSettings(long? maskTokenId = null, bool? shiftedLogits = null);

    /// <summary>
    /// When the output head shares its matrix with the input embedding: the embedding parameter's name and the name the
    /// head would have untied (<c>model.embed_tokens.weight</c> / <c>lm_head.weight</c> for a tied Qwen2). Null when untied.
    /// </summary>
    public abstract (string Embedding, string Head)? TiedWeights { get; }

    /// <summary>A new model of the same architecture and config on <paramref name="device"/> in <paramref name="dtype"/>,
    /// its weights not initialised (copy or load them): a frozen teacher, an EMA copy.</summary>
    public abstract LanguageModel NewOfSameArchitecture(Device? device = null, ScalarType? dtype = null);

    /// <summary>Deterministic random initialisation from <paramref name="seed"/> (the architecture's Hugging Face scheme);
    /// <paramref name="std"/> null = the architecture's default (<c>initializer_range</c>, 0.02).</summary>
    public abstract LanguageModel InitializeWeights(long seed, double? std = null);

    /// <summary>What loading did beyond reading every tensor (e.g. a BERT MLM head initialised from a seed), one line each.</summary>
    public virtual IReadOnlyList<string> LoadNotes => [];

    /// <summary>Logits [B, L, V] for <paramref name="tokens"/> [B, L] under <paramref name="attention"/> (no default: causal and
    /// bidirectional give different, equally plausible numbers).</summary>
    public Tensor Logits(Tensor tokens, AttentionPolicy attention) => forward(new ModelInput(tokens, attention)).Logits;

    /// <summary>Number of parameters (a tied head counted once).</summary>
    public long ParameterCount => parameters().Sum(p => p.numel());
}

using OpenDllm.Attention;
using OpenDllm.Data;
using OpenDllm.Models;
using OpenDllm.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Training;

/// <summary>
/// A training method (MDLM, AR, BD3LM, SFT, …): what it trains and how. A method owns four things: its model(s), the
/// batch → loss computation, its validation bound and the metrics it logs. The <see cref="Trainer"/> owns the rest:
/// optimizer, learning-rate schedule, accumulation, checkpoints, exact resume, time budget, device and precision. A new
/// method is a folder under <c>Methods/</c> and one <see cref="TrainingMethods.Register"/> call; the trainer does not change.
/// </summary>
/// <remarks>
/// Every random draw (times, masks) comes from the generator passed in, so a run replays exactly from a checkpoint's
/// generator state. Implementations must not read tensors back to the host in <see cref="Loss"/> or <see cref="Bound"/>:
/// the trainer reads the loss once per optimizer step and the bound once per evaluation.
/// </remarks>
public interface ITrainingMethod
{
    /// <summary>The name recipes use (<c>train.objective</c>) and checkpoints record.</summary>
    string Name { get; }

    /// <summary>The model this method trains and the trainer saves.</summary>
    LanguageModel Model { get; }

    /// <summary>How the trained model attends at inference: the health probe before saving a checkpoint uses it.</summary>
    AttentionPolicy Attention { get; }

    /// <summary>The name of the validation bound in <c>metrics.jsonl</c> and the CLI (e.g. <c>val_nelbo_bits</c>), in bits per token.</summary>
    string BoundMetric { get; }

    /// <summary>The training loss of one micro-batch (a scalar with grad) and any per-step metrics the method logs.</summary>
    MethodLoss Loss(PackedBatch batch, Generator generator);

    /// <summary>The validation bound of one batch as sums (nats, tokens) left on the device.</summary>
    BoundTerms Bound(PackedBatch batch, Generator generator);
}

/// <summary>One micro-batch's loss and the scalars a method logs beside it (averaged over the step's micro-batches).</summary>
/// <param name="Loss">[] the loss to differentiate.</param>
/// <param name="Metrics">name → [] scalar tensors, detached; written to <c>metrics.jsonl</c> at each logged step.</param>
public sealed record MethodLoss(Tensor Loss, IReadOnlyDictionary<string, Tensor>? Metrics = null)
{
    /// <summary>
    /// Optional name → [] weight (e.g. 0 for a micro-batch where the metric was skipped, 1 otherwise) for some of
    /// <see cref="Metrics"/>: the step logs Σ w·value / Σ w over its micro-batches instead of the plain mean, and leaves the
    /// metric out of that step's record when Σ w = 0. Metrics without a weight are plain means.
    /// </summary>
    public IReadOnlyDictionary<string, Tensor>? MetricWeights { get; init; }
}

/// <summary>The validation bound of one batch, summed, left on the device until the evaluation ends.</summary>
/// <param name="Nats">[] float64: Σ over target tokens of the per-token bound (e.g. w(t)·CE at masked targets for MDLM,
/// SPEC §1.2, or the next-token CE for AR), in nats.</param>
/// <param name="Tokens">[] long: number of tokens the bound covers.</param>
public sealed record BoundTerms(Tensor Nats, Tensor Tokens)
{
    /// <summary>
    /// Optional further validation metrics of this batch: name → (Σ, count), both [] tensors left on the device.
    /// <see cref="HeldOutEvaluation"/> sums each over the validation batches and reads it once at the end; the trainer
    /// logs Σ Sum / Σ Count as <c>val_&lt;name&gt;</c> in the bound's <c>metrics.jsonl</c> record (left out when
    /// Σ Count = 0). A name must be the same in every batch that reports it.
    /// </summary>
    public IReadOnlyDictionary<string, ValidationSum>? Extras { get; init; }

    /// <summary>Moves every tensor (the extras' too) to the enclosing dispose scope (a method returns its terms out of its own scope).</summary>
    public BoundTerms MoveToOuterDisposeScope()
    {
        Nats.MoveToOuterDisposeScope();
        Tokens.MoveToOuterDisposeScope();
        foreach (var extra in Extras?.Values ?? [])
        {
            extra.Sum.MoveToOuterDisposeScope();
            extra.Count.MoveToOuterDisposeScope();
        }
        return this;
    }
}

/// <summary>One validation metric of one batch as a sum and the count it is averaged over (e.g. Σ per-token loss, tokens).</summary>
/// <param name="Sum">[] any float or integer dtype; summed in float64.</param>
/// <param name="Count">[] any dtype; summed in float64. The logged value is Σ Sum / Σ Count over the batches.</param>
public sealed record ValidationSum(Tensor Sum, Tensor Count);

/// <summary>
/// Optional for a <see cref="ITrainingMethod"/>: metrics computed on the host once per training evaluation, beside the
/// bound (e.g. LDLM samples latents, decodes them and scores the text). The trainer calls it after the bound with the
/// method's modules in eval mode and no grad, and logs each entry as <c>val_&lt;name&gt;</c> in the same record.
/// </summary>
public interface IExtraValidation
{
    /// <summary>
    /// Computes the metrics of one evaluation. <paramref name="validation"/> is the held-out data (read it with
    /// <see cref="PackedLoader.InOrder"/>: the same batches every time), <paramref name="batches"/> is <c>train.eval_batches</c>,
    /// <paramref name="seed"/> the fixed validation seed (draw every random choice from it, so two evaluations of the same
    /// weights agree) and <paramref name="step"/> the optimizer step being evaluated.
    /// </summary>
    IReadOnlyDictionary<string, double> Validate(PackedLoader validation, int batches, long seed, long step);
}

/// <summary>What a method is built from: the recipe, the model the trainer built (weights, precision, device), the tokenizer.</summary>
public sealed record TrainingMethodContext(Recipe Recipe, LanguageModel Model, ITokenizer Tokenizer)
{
    /// <summary>The [MASK] id: the model config's <c>mask_token_id</c>, else the tokenizer's.</summary>
    public long MaskId => Model.MaskTokenId ?? Tokenizer.Special.Mask;

    /// <summary>Dream-style shifted logits (SPEC §2.3), from the model config.</summary>
    public bool Shifted => Model.ShiftedLogits;
}

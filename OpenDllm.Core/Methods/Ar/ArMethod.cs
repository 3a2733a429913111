using OpenDllm.Attention;
using OpenDllm.Data;
using OpenDllm.Models;
using OpenDllm.Objectives;
using OpenDllm.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Methods.Ar;

/// <summary>
/// Autoregressive training, the baseline diffusion runs are compared with: a causal forward and the next-token cross
/// entropy at every token that continues its document (SPEC §2.2); the validation bound is the same NLL, in bits per token.
/// On prompt/response data (<see cref="PackedBatch.Prompt"/>) only response tokens are targets (ordinary AR fine-tuning).
/// </summary>
public sealed class ArMethod(TrainingMethodContext context) : ITrainingMethod
{
    /// <summary>The name recipes use.</summary>
    public const string MethodName = "ar";

    public string Name => MethodName;
    public LanguageModel Model { get; } = context.Model;
    public AttentionPolicy Attention => AttentionPolicy.Causal;
    public string BoundMetric => "val_nll_bits";

    public MethodLoss Loss(PackedBatch batch, Generator generator)
    {
        using var scope = NewDisposeScope();
        return new MethodLoss(NextToken(batch).Loss.MoveToOuterDisposeScope());
    }

    public BoundTerms Bound(PackedBatch batch, Generator generator)
    {
        using var scope = NewDisposeScope();
        var ar = NextToken(batch);
        return new BoundTerms(ar.TokenCe.to(ScalarType.Float64).sum(), ar.TargetCount).MoveToOuterDisposeScope();
    }

    TokenLossResult NextToken(PackedBatch batch)
    {
        var head = Model.ForwardToHead(batch.ToModelInput(AttentionPolicy.Causal));
        var targets = DocumentEnds.Continuations(batch.DocumentIds, batch.KeyPadding);
        if (batch.Prompt is { } prompt) targets = targets.logical_and(prompt.logical_not());
        return AutoregressiveLoss.NextToken(head, batch.Tokens, targets);
    }
}

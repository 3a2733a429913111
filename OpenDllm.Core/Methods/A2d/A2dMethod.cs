using OpenDllm.Attention;
using OpenDllm.Data;
using OpenDllm.Methods.Mdlm;
using OpenDllm.Models;
using OpenDllm.Objectives;
using OpenDllm.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Methods.A2d;

/// <summary>
/// AR → diffusion adaptation with representation alignment (Open-dLLM; "Don't Retrain—Align",
/// <see href="https://arxiv.org/abs/2605.06885"/>; SPEC §3). One micro-batch:
/// <list type="number">
/// <item>student: the (AR-initialised) model, run bidirectionally on x_t and scored with the MDLM loss exactly as
/// <see cref="MdlmMethod"/> computes it (same draws, same options: <c>train.loss</c>, <c>train.path_loss</c>, …; the shift
/// comes from the model config);</item>
/// <item>teacher (only when λ &gt; 0): a frozen copy of the initial weights (<see cref="FrozenTeacher"/>), run causally on
/// the clean sequence with the same position and document ids, under no grad;</item>
/// <item>alignment: L_align = 1 − mean cos over all num_layers + 1 HF hidden states at the MDM-active positions, after the
/// one-token shift (<see cref="RepresentationAlignmentLoss.Masked"/>), from the same student forward that feeds the head;</item>
/// <item>L = L_MDM + λ·[N_M &gt; 0]·L_align: a micro-batch with no masked target skips the term (no host read decides it).</item>
/// </list>
/// λ = 0 builds no teacher and is <c>objective: mdlm</c> bit for bit. Logged beside <c>loss</c>: <c>mdm_loss</c> and, with a
/// teacher, <c>align_loss</c>, averaged over the step's micro-batches that had masked targets only. The validation bound is
/// MDLM's NELBO (<c>val_nelbo_bits</c>, t ~ U(ε, 1)), so a2d and mdlm runs compare directly.
/// </summary>
public sealed class A2dMethod : ITrainingMethod, IDisposable
{
    /// <summary>The name recipes use.</summary>
    public const string MethodName = "a2d";

    readonly MdlmMethod _mdlm;
    readonly FrozenTeacher? _teacher;

    /// <summary>Builds the MDLM student and, when <c>train.a2d.align_weight</c> &gt; 0, the teacher from the model's current
    /// (initial) weights: the trainer creates the method before a resume loads a checkpoint.</summary>
    public A2dMethod(TrainingMethodContext context)
    {
        Options = (context.Recipe.Train.A2d ?? new A2dOptions()).Validate();
        _mdlm = new MdlmMethod(context);
        if (Options.AlignWeight > 0) _teacher = FrozenTeacher.CopyOf(context.Model, Options.TeacherDtype);
    }

    public string Name => MethodName;
    public LanguageModel Model => _mdlm.Model;
    public AttentionPolicy Attention => _mdlm.Attention;
    public string BoundMetric => _mdlm.BoundMetric;

    /// <summary>λ and the teacher's dtype.</summary>
    public A2dOptions Options { get; }

    /// <summary>The frozen teacher, or null when λ = 0.</summary>
    public FrozenTeacher? Teacher => _teacher;

    public MethodLoss Loss(PackedBatch batch, Generator generator)
    {
        using var scope = NewDisposeScope();
        // 1. the MDLM student: t, x_t, one bidirectional forward (with its hidden states when aligning), L_MDM
        var forward = _mdlm.TrainingForward(batch, generator, hiddenStates: _teacher is not null);
        var mdm = _mdlm.TrainingLoss(batch, forward).Loss;
        if (_teacher is null)
            return Moved(new MethodLoss(mdm, new Dictionary<string, Tensor> { ["mdm_loss"] = mdm.detach() }));

        // 2. the teacher on x_0, causal, same positions and documents                 num_layers + 1 × [B, L, D]
        var teacher = _teacher.HiddenStates(batch.ToModelInput(AttentionPolicy.Causal));

        // 3. L_align at the active predictions, both stacks cut by one position when shifted   [], []
        bool shift = _mdlm.Shifted;
        var active = _mdlm.ActivePredictions(batch, forward);                                       // [B, L′]
        var (align, present) = RepresentationAlignmentLoss.Masked(
            forward.Head.HiddenStates!.Select(h => LossTargets.Predictions(h, shift)).ToList(),
            teacher.Select(h => LossTargets.Predictions(h, shift)).ToList(), active);

        // 4. L = L_MDM + λ·[N_M > 0]·L_align
        var loss = mdm + Options.AlignWeight * present * align;
        var metrics = new Dictionary<string, Tensor> { ["mdm_loss"] = mdm.detach(), ["align_loss"] = align.detach() };
        return Moved(new MethodLoss(loss, metrics) { MetricWeights = new Dictionary<string, Tensor> { ["align_loss"] = present } });
    }

    public BoundTerms Bound(PackedBatch batch, Generator generator) => _mdlm.Bound(batch, generator);

    static MethodLoss Moved(MethodLoss result)
    {
        result.Loss.MoveToOuterDisposeScope();
        foreach (var value in result.Metrics?.Values ?? []) value.MoveToOuterDisposeScope();
        foreach (var value in result.MetricWeights?.Values ?? []) value.MoveToOuterDisposeScope();
        return result;
    }

    public void Dispose() => _teacher?.Dispose();
}

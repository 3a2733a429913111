using OpenDllm.Attention;
using OpenDllm.Data;
using OpenDllm.Models;
using OpenDllm.Objectives;
using OpenDllm.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Methods.DreamOn;

/// <summary>
/// DreamOn variable-length infilling training (SPEC §5.7; DreamLM/DreamOn <c>sft_expand_dataset.py</c>): every row of the
/// batch becomes one <see cref="InfillExample"/> cut from one document of the row (prefix, a middle of whole lines with
/// some masks merged into <c>&lt;expand&gt;</c> targets and <c>&lt;delete&gt;</c> targets appended, suffix), and the
/// loss is the cross-entropy at the middle's masks, averaged over them:
/// L = (1/|M|) Σ_{i∈M} −log p_θ(y_i | x̃), y_i ∈ V ∪ {&lt;expand&gt;, &lt;delete&gt;}.
/// A merged pair's second token is left out of the input altogether (DreamOn hides it from attention and gives it no
/// position id; positions here are consecutive without it, which is the same thing).
/// <para>The example is built on the host (it is a collator step, as in DreamOn's dataset code): the batch's tokens,
/// document ids and key padding are read back once per micro-batch, which is the one host read of this method.
/// Every draw comes from one seed taken from the trainer's generator, so a resumed run replays exactly.</para>
/// <para>The validation bound <c>val_infill_ce_bits</c> is the same cross-entropy on held-out rows with the fixed
/// validation generator, in bits per scored token; it is not a NELBO.</para>
/// </summary>
public sealed class DreamOnMethod : ITrainingMethod
{
    /// <summary>The name recipes use (<c>train.objective: dreamon</c>).</summary>
    public const string MethodName = "dreamon";

    readonly DreamOnOptions _options;
    readonly bool[] _endsLine;
    readonly long _padId;

    public DreamOnMethod(TrainingMethodContext context)
    {
        var recipe = context.Recipe;
        _options = (recipe.Train.DreamOn ?? new DreamOnOptions()).Validate(recipe.Data.SeqLen);
        Model = context.Model;
        MaskId = context.MaskId;
        Shifted = context.Shifted;
        Tokens = DreamOnTokens.Resolve(_options, context.Tokenizer, Model.VocabSize);
        _padId = context.Tokenizer.Special.Pad;
        var tokenizer = context.Tokenizer;
        _endsLine = Enumerable.Range(0, Model.VocabSize)
            .Select(id => id < tokenizer.VocabSize && tokenizer.Decode([id], skipSpecialTokens: true).Contains('\n')).ToArray();
    }

    public string Name => MethodName;
    public LanguageModel Model { get; }
    public AttentionPolicy Attention => AttentionPolicy.Bidirectional;
    public string BoundMetric => "val_infill_ce_bits";
    public long MaskId { get; }
    public bool Shifted { get; }

    /// <summary>The <c>&lt;expand&gt;</c> and <c>&lt;delete&gt;</c> ids this run trains.</summary>
    public DreamOnTokens Tokens { get; }

    /// <summary>The mean CE at the middles' masks of one micro-batch (scalar, with grad), and the share of expand/delete targets.</summary>
    public MethodLoss Loss(PackedBatch batch, Generator generator)
    {
        using var scope = NewDisposeScope();
        var (sum, count, special) = CrossEntropy(batch, generator);
        var loss = sum / count.clamp_min(1).to(sum.dtype);
        var metrics = new Dictionary<string, Tensor> { ["expand_delete_share"] = (special / count.clamp_min(1)).detach().MoveToOuterDisposeScope() };
        return new MethodLoss(loss.MoveToOuterDisposeScope(), metrics);
    }

    /// <summary>The validation bound of one batch: Σ CE (nats, float64) over the middles' masks and their number.</summary>
    public BoundTerms Bound(PackedBatch batch, Generator generator)
    {
        using var scope = NewDisposeScope();
        var (sum, count, _) = CrossEntropy(batch, generator);
        return new BoundTerms(sum.to(ScalarType.Float64), count).MoveToOuterDisposeScope();
    }

    /// <summary>Σ CE [] float32 (with grad), the number of scored masks [] long and how many of them are expand/delete targets [] float32.</summary>
    (Tensor Sum, Tensor Count, Tensor Special) CrossEntropy(PackedBatch batch, Generator generator)
    {
        var device = batch.Tokens.device;
        var examples = Examples(batch, generator);
        int rows = examples.Length, length = (int)batch.Tokens.shape[1];
        var tokens = new long[rows, length];
        var labels = new long[rows, length];
        var positions = new long[rows, length];
        var real = new bool[rows, length];
        for (int b = 0; b < rows; b++)
        {
            var e = examples[b];
            for (int j = 0; j < length; j++)
            {
                bool inside = e is not null && j < e.Input.Length;
                tokens[b, j] = inside ? e!.Input[j] : _padId;
                labels[b, j] = inside && e!.Labels[j] != InfillExample.Ignore ? e.Labels[j] : -1;
                positions[b, j] = inside ? j : 0;
                real[b, j] = inside;
            }
        }
        var x = tensor(tokens).to(device);
        var y = tensor(labels).to(device);
        var scored = y >= 0;                                                           // [B, L]
        var input = new ModelInput(x, AttentionPolicy.Bidirectional, tensor(positions).to(device), tensor(real).to(device));
        var head = Model.ForwardToHead(input);
        var active = LossTargets.Active(scored, Shifted);                              // [B, L′] on the prediction grid
        var targets = where(scored, y, x);                                             // labels where scored, any valid id elsewhere
        var ce = MdlmLoss.SelectedCrossEntropy(head, targets, active, Shifted, MaskId);  // [B, L′], 0 off the scored masks
        var special = (scored & ((y == Tokens.Expand) | (y == Tokens.Delete))).sum().to(ScalarType.Float32);
        return (ce.sum(), active.sum(), special);
    }

    /// <summary>One example per row (null for a row with fewer than 2 real tokens), drawn with one seed from <paramref name="generator"/>.</summary>
    InfillExample?[] Examples(PackedBatch batch, Generator generator)
    {
        long seed;
        using (var draw = randint(long.MaxValue, [1], dtype: ScalarType.Int64, generator: generator)) seed = draw.item<long>();
        var random = new Random(unchecked((int)(seed ^ (seed >> 32))));
        using var tokensHost = batch.Tokens.cpu();
        using var docsHost = batch.DocumentIds.cpu();
        using var realHost = batch.KeyPadding.cpu();
        var tok = tokensHost.data<long>().ToArray();
        var doc = docsHost.data<long>().ToArray();
        var real = realHost.data<bool>().ToArray();
        int rows = (int)batch.Tokens.shape[0], length = (int)batch.Tokens.shape[1];
        var examples = new InfillExample?[rows];
        for (int b = 0; b < rows; b++)
        {
            int offset = b * length;
            var realPositions = Enumerable.Range(0, length).Where(j => real[offset + j]).ToList();
            if (realPositions.Count < 2) continue;
            int pick = realPositions[random.Next(realPositions.Count)];
            long id = doc[offset + pick];
            int start = pick, end = pick + 1;
            while (start > 0 && real[offset + start - 1] && doc[offset + start - 1] == id) start--;
            while (end < length && real[offset + end] && doc[offset + end] == id) end++;
            if (end - start < 2) continue;
            var segment = new ArraySegment<long>(tok, offset + start, end - start);
            examples[b] = InfillExample.Build(segment, length, t => t >= 0 && t < _endsLine.Length && _endsLine[t], _options, Tokens, MaskId, random);
        }
        return examples;
    }
}

using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.Attention;
using OpenDllm.Config;
using OpenDllm.Models;
using OpenDllm.Objectives;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Objectives;

/// <summary>
/// A tiny random model and MDLM batch for comparing the chunked head with the dense reference: weights and tensors are
/// drawn from <see cref="Seed"/>, so a failing case replays exactly. <see cref="ChunkRows"/> 1 … N + 1 covers one row per
/// chunk, uneven last chunks and a single chunk.
/// </summary>
public sealed record HeadCase(int B, int L, int V, int Seed, bool Tied, double MaskRate, bool PerTokenT, bool Shift, bool Subs,
                              bool WithMaskable, bool WithDocumentEnd, MdlmWeighting Weighting, LossNormalization Normalization, int ChunkRows)
{
    public long MaskId => V - 1;

    public Qwen2Model Model()
    {
        var config = new ModelConfig
        {
            HiddenSize = 8, IntermediateSize = 16, NumHiddenLayers = 1, NumAttentionHeads = 2, NumKeyValueHeads = 1,
            VocabSize = V, MaxPositionEmbeddings = 64, RopeTheta = 10000.0, TieWordEmbeddings = Tied, TorchDtype = "float32",
        };
        var model = new Qwen2Model(config);
        var g = new Generator((ulong)Seed);
        using (no_grad())
            foreach (var p in model.parameters()) p.normal_(0, 0.7, g);   // not the init under test: large enough for peaked logits
        return model;
    }

    public (Tensor Tokens, Tensor X0, Tensor Masked, Tensor T, Tensor? Maskable, Tensor? DocumentEnd) Batch()
    {
        var g = new Generator((ulong)Seed + 1);
        var x0 = randint(0, V - 1, new long[] { B, L }, generator: g);                             // never the mask id
        var masked = rand(new long[] { B, L }, generator: g).lt(MaskRate);
        var tokens = where(masked, full_like(x0, MaskId), x0);
        var t = PerTokenT ? 0.002 + 0.996 * rand(new long[] { B, L }, generator: g) : 0.002 + 0.996 * rand(new long[] { B }, generator: g);
        var maskable = WithMaskable ? rand(new long[] { B, L }, generator: g).lt(0.8) : null;
        var documentEnd = WithDocumentEnd ? rand(new long[] { B, L }, generator: g).lt(0.2) : null;
        return (tokens, x0, masked, t, maskable, documentEnd);
    }

    public MdlmLossOptions Options => new()
    {
        Weighting = Weighting, Normalization = Normalization, ShiftLogits = Shift, MaskTokenId = Subs ? MaskId : null,
        Schedule = Seed % 2 == 0 ? OpenDllm.Schedules.LinearSchedule.Instance : null,
    };

    public static Gen<HeadCase> Generator() =>
        from b in Gen.Choose(1, 3)
        from l in Gen.Choose(2, 7)
        from v in Gen.Choose(3, 11)
        from seed in Gen.Choose(0, int.MaxValue)
        from tied in Gen.Elements(true, false)
        from rate in Gen.Elements(0.0, 0.15, 0.5, 1.0)
        from perToken in Gen.Elements(true, false)
        from shift in Gen.Elements(true, false)
        from subs in Gen.Elements(true, false)
        from maskable in Gen.Elements(true, false)
        from docEnd in Gen.Elements(true, false)
        from weighting in Gen.Elements(Enum.GetValues<MdlmWeighting>())
        from norm in Gen.Elements(Enum.GetValues<LossNormalization>())
        from chunk in Gen.Choose(1, b * l + 1)
        select new HeadCase(b, l, v, seed, tied, rate, perToken, shift, subs, maskable, docEnd, weighting, norm, chunk);
}

public class ChunkedHeadProperties
{
    /// <summary>
    /// The chunked MDLM loss (head at the active rows only, chunk by chunk, custom backward) equals the dense reference in
    /// value and in the gradient w.r.t. every parameter: every weighting and normalisation, shift, SUBS, candidate masks,
    /// tied and untied heads, zero masked included.
    /// </summary>
    [Property(MaxTest = 120)]
    public Property MdlmLossAndGradientEqualTheDenseReference() => Prop.ForAll(HeadCase.Generator().ToArbitrary(), c =>
    {
        using var scope = NewDisposeScope();
        using var model = c.Model();
        var (tokens, x0, masked, t, maskable, documentEnd) = c.Batch();
        var input = new ModelInput(tokens, AttentionPolicy.Bidirectional);
        var (dense, denseGrads) = LossAndGrads(model, () =>
            MdlmLoss.Compute(model.forward(input).Logits, x0, masked, t, c.Options, maskable, documentEnd));
        var (chunked, chunkedGrads) = LossAndGrads(model, () =>
            MdlmLoss.Compute(model.ForwardToHead(input) with { ChunkRows = c.ChunkRows }, x0, masked, t, c.Options, maskable, documentEnd));
        return Agree(dense, chunked, denseGrads, chunkedGrads, c.ToString())
            .Classify(dense.Targets == 0, "no targets").Classify(c.Shift, "shifted").Classify(c.ChunkRows == 1, "one row per chunk");
    });

    /// <summary>The chunked AR next-token loss equals the dense one in value and gradient (with and without a target mask).</summary>
    [Property(MaxTest = 60)]
    public Property AutoregressiveLossAndGradientEqualTheDenseReference() => Prop.ForAll(HeadCase.Generator().ToArbitrary(), c =>
    {
        using var scope = NewDisposeScope();
        using var model = c.Model();
        var (_, x0, _, _, maskable, _) = c.Batch();
        var input = new ModelInput(x0, AttentionPolicy.Causal);
        var (dense, denseGrads) = LossAndGrads(model, () => AutoregressiveLoss.NextToken(model.forward(input).Logits, x0, maskable));
        var (chunked, chunkedGrads) = LossAndGrads(model, () =>
            AutoregressiveLoss.NextToken(model.ForwardToHead(input) with { ChunkRows = c.ChunkRows }, x0, maskable));
        return Agree(dense, chunked, denseGrads, chunkedGrads, c.ToString()).Classify(maskable is not null, "target mask");
    });

    /// <summary>Per-row CE and its gradients w.r.t. the rows and the head equal autograd through full logits.</summary>
    [Property(MaxTest = 80)]
    public Property ChunkedCrossEntropyMatchesAutograd() => Prop.ForAll(RowCases().ToArbitrary(), c =>
    {
        var (n, v, chunk, seed, suppress) = c;
        using var scope = NewDisposeScope();
        var g = new Generator((ulong)seed);
        var h = (randn(new long[] { n, 5 }, generator: g) * 2).requires_grad_(true);
        var w = randn(new long[] { v, 5 }, generator: g).requires_grad_(true);
        var y = randint(0, v - 1, new long[] { n }, generator: g);
        long? m = suppress ? v - 1 : null;
        var upstream = rand(new long[] { n }, generator: g);                                      // arbitrary ∂L/∂CE
        var logits = h.matmul(w.t());
        if (m is long id) logits = LogitMasks.SuppressToken(logits, id);
        var reference = nn.functional.cross_entropy(logits, y, reduction: nn.Reduction.None);
        var (rh, rw) = Grads(reference, upstream, h, w);
        var ce = ChunkedCrossEntropy.Compute(h, w, y, m, chunk);
        var (ch, cw) = Grads(ce, upstream, h, w);
        bool ok = reference.allclose(ce, 1e-5, 1e-5) && rh.allclose(ch, 1e-5, 1e-5) && rw.allclose(cw, 1e-5, 1e-5);
        return ok.Label($"{c}").Classify(n == 0, "no rows");
    });

    static Gen<(int N, int V, int Chunk, int Seed, bool Suppress)> RowCases() =>
        from n in Gen.Choose(0, 7)
        from v in Gen.Choose(2, 9)
        from chunk in Gen.Choose(1, 9)
        from seed in Gen.Choose(0, int.MaxValue)
        from suppress in Gen.Elements(true, false)
        select (n, v, chunk, seed, suppress);

    static (Tensor Dh, Tensor Dw) Grads(Tensor ce, Tensor upstream, Tensor h, Tensor w)
    {
        var grads = torch.autograd.grad([(ce * upstream).sum()], [h, w], allow_unused: true);
        return (grads[0] ?? zeros_like(h), grads[1] ?? zeros_like(w));
    }

    sealed record Run(double Loss, long Targets);

    static (Run Run, Dictionary<string, Tensor> Grads) LossAndGrads(Qwen2Model model, Func<TokenLossResult> loss)
    {
        model.zero_grad();
        var result = loss();
        result.Loss.backward();
        var grads = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad?.clone() ?? zeros_like(p.parameter));
        return (new Run(result.Loss.item<float>(), result.NumTargets), grads);
    }

    /// <summary>
    /// Float32 agreement: the loss within 1e-5 + 1e-4·|L|; each parameter's gradient within 1e-4·max|∂L/∂θ| + 1e-6·max(1, |L|)
    /// (the second term covers gradients that are tiny through cancellation of terms of the loss's size, e.g. 1/t = 500).
    /// </summary>
    static Property Agree(Run dense, Run chunked, Dictionary<string, Tensor> denseGrads, Dictionary<string, Tensor> chunkedGrads, string label)
    {
        bool lossOk = Math.Abs(dense.Loss - chunked.Loss) <= 1e-5 + 1e-4 * Math.Abs(dense.Loss) && dense.Targets == chunked.Targets;
        var worst = denseGrads.Select(kv =>
        {
            var a = kv.Value; var b = chunkedGrads[kv.Key];
            double scale = a.abs().max().item<float>(), diff = (a - b).abs().max().item<float>();
            return (Name: kv.Key, Ok: diff <= 1e-4 * scale + 1e-6 * Math.Max(1, Math.Abs(dense.Loss)), Diff: diff, Scale: scale);
        }).ToList();
        var bad = worst.Where(x => !x.Ok).ToList();
        return (lossOk && bad.Count == 0).Label(
            $"{label}: loss dense {dense.Loss:R} / chunked {chunked.Loss:R} (n {dense.Targets}/{chunked.Targets}); "
            + string.Join("; ", bad.Select(x => $"{x.Name} |Δ| {x.Diff:G3} of {x.Scale:G3}")));
    }
}

using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.Objectives;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Objectives;

/// <summary>A random MDLM batch: tensors are drawn from <see cref="Seed"/>, so a failing case replays exactly.</summary>
public sealed record MdlmCase(int B, int L, int V, int Seed, double MaskRate, bool PerTokenT, bool Shift, bool Subs,
                              bool WithMaskable, bool WithDocumentEnd, MdlmWeighting Weighting, LossNormalization Normalization)
{
    public long MaskId => V - 1;

    public (Tensor Logits, Tensor X0, Tensor Masked, Tensor T, Tensor? Maskable, Tensor? DocumentEnd) Build()
    {
        var g = new Generator((ulong)Seed);
        var logits = randn(new long[] { B, L, V }, generator: g) * 3;                              // [B, L, V]
        var x0 = randint(0, V - 1, new long[] { B, L }, generator: g);                             // never the mask id
        var masked = rand(new long[] { B, L }, generator: g).lt(MaskRate);
        var t = PerTokenT ? 0.002 + 0.996 * rand(new long[] { B, L }, generator: g) : 0.002 + 0.996 * rand(new long[] { B }, generator: g);
        var maskable = WithMaskable ? rand(new long[] { B, L }, generator: g).lt(0.8) : null;
        var documentEnd = WithDocumentEnd ? rand(new long[] { B, L }, generator: g).lt(0.2) : null;
        return (logits, x0, masked, t, maskable, documentEnd);
    }

    public MdlmLossOptions Options => new()
    {
        Weighting = Weighting, Normalization = Normalization, ShiftLogits = Shift, MaskTokenId = Subs ? MaskId : null,
        Schedule = Seed % 2 == 0 ? OpenDllm.Schedules.LinearSchedule.Instance : null,     // both routes to w = 1/t
    };

    public static Gen<MdlmCase> Generator() =>
        from b in Gen.Choose(1, 4)
        from l in Gen.Choose(2, 9)
        from v in Gen.Choose(3, 8)
        from seed in Gen.Choose(0, int.MaxValue)
        from rate in Gen.Elements(0.0, 0.15, 0.5, 0.9, 1.0)
        from perToken in Gen.Elements(true, false)
        from shift in Gen.Elements(true, false)
        from subs in Gen.Elements(true, false)
        from maskable in Gen.Elements(true, false)
        from docEnd in Gen.Elements(true, false)
        from weighting in Gen.Elements(Enum.GetValues<MdlmWeighting>())
        from norm in Gen.Elements(Enum.GetValues<LossNormalization>())
        select new MdlmCase(b, l, v, seed, rate, perToken, shift, subs, maskable, docEnd, weighting, norm);
}

public class MdlmLossProperties
{
    /// <summary>The loss equals a plain double-precision loop over positions (every weighting, normalisation, shift, SUBS, masks).</summary>
    [Property(MaxTest = 150)]
    public Property EqualsPlainLoopOverPositions() => Prop.ForAll(MdlmCase.Generator().ToArbitrary(), c =>
    {
        using var scope = NewDisposeScope();
        var (logits, x0, masked, t, maskable, documentEnd) = c.Build();
        var result = MdlmLoss.Compute(logits, x0, masked, t, c.Options, maskable, documentEnd);
        var (expected, n) = LoopOracle(c, logits, x0, masked, t, maskable, documentEnd);
        double actual = result.Loss.item<float>();
        bool close = Math.Abs(actual - expected) <= 1e-4 * Math.Max(1, Math.Abs(expected));
        return (close && n == result.NumTargets)
            .Label($"{c}: loop {expected:R} (n={n}), tensor {actual:R} (n={result.NumTargets})")
            .Classify(n == 0, "no targets").Classify(c.Shift, "shifted").Classify(c.WithDocumentEnd && c.Shift, "document ends")
            .Classify(c.Weighting == MdlmWeighting.Scheduler, "1/t scheduler");
    });

    /// <summary>Permuting the sequences of the batch leaves the loss unchanged.</summary>
    [Property(MaxTest = 80)]
    public Property InvariantToPermutingSequences() => Prop.ForAll(MdlmCase.Generator().ToArbitrary(), c =>
    {
        using var scope = NewDisposeScope();
        var (logits, x0, masked, t, maskable, documentEnd) = c.Build();
        var perm = randperm(c.B, generator: new Generator((ulong)c.Seed + 1));
        var a = MdlmLoss.Compute(logits, x0, masked, t, c.Options, maskable, documentEnd).Loss.item<float>();
        var p = MdlmLoss.Compute(logits[perm], x0[perm], masked[perm], t[perm], c.Options, maskable?[perm], documentEnd?[perm]).Loss.item<float>();
        return (Math.Abs(a - p) <= 1e-5 * Math.Max(1, Math.Abs(a)))
            .Label($"{c}: {a:R} vs permuted {p:R}").Classify(c.B == 1, "B = 1").Classify(c.Normalization == LossNormalization.Sequence, "per-sequence");
    });

    /// <summary>Nothing masked ⇒ loss exactly 0 and a finite gradient, even with t = 0 everywhere (1/t = ∞ off the targets).</summary>
    [Property(MaxTest = 60)]
    public Property ZeroMaskedGivesZeroAndFiniteGradient() => Prop.ForAll(MdlmCase.Generator().ToArbitrary(), Gen.Elements(true, false).ToArbitrary(), (c, zeroT) =>
    {
        using var scope = NewDisposeScope();
        var (logits, x0, masked, t, maskable, documentEnd) = c.Build();
        var leaf = logits.detach().requires_grad_(true);
        var none = zeros_like(masked);
        var result = MdlmLoss.Compute(leaf, x0, none, zeroT ? zeros_like(t) : t, c.Options, maskable, documentEnd);
        result.Loss.backward();
        double loss = result.Loss.item<float>();
        bool gradFinite = leaf.grad is { } grad && grad.isfinite().all().item<bool>();
        return (loss == 0 && gradFinite && result.NumTargets == 0)
            .Label($"{c}, t=0: {zeroT}: loss {loss}, finite grad {gradFinite}").Classify(zeroT, "t = 0");
    });

    private static (double Loss, long N) LoopOracle(MdlmCase c, Tensor logits, Tensor x0, Tensor masked, Tensor t, Tensor? maskable, Tensor? documentEnd)
    {
        var z = logits.data<float>().ToArray();
        var ids = x0.data<long>().ToArray();
        var m = masked.data<bool>().ToArray();
        var tv = t.data<float>().ToArray();
        var mk = maskable?.data<bool>().ToArray();
        var de = documentEnd?.data<bool>().ToArray();
        int B = c.B, L = c.L, V = c.V, width = c.Shift ? L - 1 : L;
        double total = 0; long n = 0; long candidatesAll = 0;
        var perSeq = new double[B]; var candSeq = new long[B];
        for (int b = 0; b < B; b++)
            for (int p = 0; p < width; p++)
            {
                int j = c.Shift ? p + 1 : p;                                       // the target position
                bool candidate = (mk is null || mk[b * L + j]) && !(c.Shift && de is not null && de[b * L + p]);
                if (!candidate) continue;
                candidatesAll++; candSeq[b]++;
                if (!m[b * L + j]) continue;
                n++;
                double max = double.NegativeInfinity;
                for (int v = 0; v < V; v++) if (!(c.Subs && v == c.MaskId)) max = Math.Max(max, z[(b * L + p) * V + v]);
                double sum = 0;
                for (int v = 0; v < V; v++) if (!(c.Subs && v == c.MaskId)) sum += Math.Exp(z[(b * L + p) * V + v] - max);
                double ce = max + Math.Log(sum) - z[(b * L + p) * V + ids[b * L + j]];
                double tt = c.PerTokenT ? tv[b * L + j] : tv[b], prob = Math.Exp(-ce);
                double term = c.Weighting switch
                {
                    MdlmWeighting.Scheduler => ce / tt,
                    MdlmWeighting.Uniform => ce,
                    MdlmWeighting.OpenDllmV1 => (ce + prob * ce) / tt,
                    MdlmWeighting.OpenDllmLatest => ce + prob * ce / tt,
                    _ => ce + prob * ce,
                };
                total += term; perSeq[b] += term;
            }
        double loss = c.Normalization switch
        {
            LossNormalization.MaskedTokens => total / (n + 1e-8),
            LossNormalization.MaskableTokens => total / Math.Max(candidatesAll, 1),
            LossNormalization.Sequence => Enumerable.Range(0, B).Sum(b => perSeq[b] / Math.Max(candSeq[b], 1)) / B,
            _ => total / B,
        };
        return (loss, n);
    }
}

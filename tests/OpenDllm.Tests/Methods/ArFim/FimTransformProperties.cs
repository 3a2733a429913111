using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using OpenDllm.Methods.ArFim;

namespace OpenDllm.Tests.Methods.ArFim;

/// <summary>Invariants of the FIM transformation (PSM order, Bavarian et al. 2022).</summary>
public class FimTransformProperties
{
    static readonly FimTokens Fim = new(Prefix: 259, Suffix: 261, Middle: 260, Eos: 256);

    static Gen<long[]> Documents(int minLength = 0) =>
        Gen.ListOf(Gen.Choose(0, 255)).Where(l => l.Count >= minLength).Select(l => l.Select(i => (long)i).ToArray());

    /// <summary>Undoing PSM gives the document back, for every document and every pair of split points.</summary>
    [Property(MaxTest = 300)]
    public Property UndoingPsmGivesTheDocumentBack() =>
        Prop.ForAll(Gen.Zip(Documents(), Gen.Zip(Gen.Choose(0, 1000), Gen.Choose(0, 1000))).ToArbitrary(), x =>
        {
            var (doc, (u, v)) = x;
            int a = u % (doc.Length + 1), b = v % (doc.Length + 1);
            (a, b) = (Math.Min(a, b), Math.Max(a, b));
            var psm = FimTransform.ToPsm(doc, a, b, Fim);
            bool ok = psm.Length == doc.Length + 3 && psm[0] == Fim.Prefix
                && psm[a + 1] == Fim.Suffix && psm[a + 1 + doc.Length - b + 1] == Fim.Middle
                && FimTransform.FromPsm(psm, Fim).SequenceEqual(doc);
            return ok.Label($"a = {a}, b = {b}, n = {doc.Length}");
        });

    /// <summary>
    /// The in-place form keeps the piece's length and ends the middle with EOS; undoing it gives the content back less the
    /// suffix tokens the sentinels took (3, or 4 when the piece had no EOS); a piece left alone is unchanged.
    /// </summary>
    [Property(MaxTest = 300)]
    public Property InPlaceKeepsTheLengthAndUndoesToTheTruncatedContent() =>
        Prop.ForAll(Gen.Zip(Documents(), Gen.Zip(Gen.Elements(true, false), Gen.Choose(0, int.MaxValue))).ToArbitrary(), x =>
        {
            var (doc, (withEos, seed)) = x;
            long[] piece = withEos ? [.. doc, Fim.Eos] : [.. doc];
            var original = piece.ToArray();
            bool changed = FimTransform.ApplyInPlace(piece, Fim, rate: 1.0, new Random(seed));
            bool ok = piece.Length == original.Length;
            if (changed)
                ok &= piece[0] == Fim.Prefix && piece[^1] == Fim.Eos
                    && FimTransform.FromPsm(piece, Fim).SequenceEqual(doc[..^FimTransform.OverflowTokens(withEos)]);
            else
                ok &= piece.SequenceEqual(original);
            return ok.Label($"n = {doc.Length}, eos = {withEos}, changed = {changed}");
        });

    [Fact]
    public void RateZeroNeverTransformsAndRateOneTransformsLongPiecesWhoseSuffixFits()
    {
        var random = new Random(1);
        int changed = 0;
        for (int i = 0; i < 200; i++)
        {
            var piece = Enumerable.Range(0, 40).Select(t => (long)t).ToArray();
            Assert.False(FimTransform.ApplyInPlace(piece, Fim, 0.0, random));
            if (FimTransform.ApplyInPlace(piece, Fim, 1.0, random)) changed++;
        }
        Assert.InRange(changed, 150, 200);                    // refused only when the drawn suffix is shorter than 4 tokens
    }

    [Fact]
    public void HalfTheRateHalfThePiecesSeeded()
    {
        int Count(int seed)
        {
            var random = new Random(seed);
            return Enumerable.Range(0, 2000).Count(_ => FimTransform.ApplyInPlace(new long[400], Fim, 0.5, random));
        }
        Assert.Equal(Count(3), Count(3));
        Assert.InRange(Count(3), 850, 1150);                  // 0.5 × P(suffix ≥ 4 of 400) ≈ 0.495
    }

    [Fact]
    public void FromPsmRefusesWhatIsNotPsm()
    {
        Assert.Throws<ArgumentException>(() => FimTransform.FromPsm([1, 2, 3], Fim));
        Assert.Throws<ArgumentException>(() => FimTransform.FromPsm([Fim.Prefix, 1, Fim.Middle, 2, Fim.Suffix], Fim));
    }
}

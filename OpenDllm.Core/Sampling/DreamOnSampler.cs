using OpenDllm.Attention;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Sampling;

/// <summary>The settings of <see cref="DreamOnSampler"/> (SPEC §5.7; the defaults are DreamOn's evaluation settings).</summary>
public sealed record DreamOnSamplerOptions
{
    /// <summary>The <c>&lt;expand&gt;</c> / <c>&lt;delete&gt;</c> ids the checkpoint was trained with (on the training side: <c>DreamOnTokens.FromCheckpoint</c>).</summary>
    public required EditTokenIds Tokens { get; init; }

    /// <summary>
    /// The length budget: the middle never grows past this many positions, and at most this many expansions happen in all
    /// (DreamOn's <c>max_gen_len</c>, 64). Once either is reached the <c>&lt;expand&gt;</c> logit is −∞.
    /// </summary>
    public int MaxMiddle { get; init; } = 64;

    /// <summary>Token temperature (DreamOn: 0.2; 0 = argmax).</summary>
    public double Temperature { get; init; } = 0.2;

    /// <summary>Nucleus filtering (DreamOn: 0.9).</summary>
    public double? TopP { get; init; } = 0.9;

    /// <summary>Top-k filtering (off).</summary>
    public int? TopK { get; init; }

    /// <summary>How a masked position's confidence is scored (DreamOn: entropy).</summary>
    public ConfidenceKind Confidence { get; init; } = ConfidenceKind.NegativeEntropy;

    /// <summary>0: commit the most confident mask; &gt; 0: draw it from softmax(confidence / alg_temp) (DreamOn: 0).</summary>
    public double AlgTemp { get; init; }

    /// <summary>Seed of every draw (tokens at temperature &gt; 0, positions at alg_temp &gt; 0).</summary>
    public long Seed { get; init; }

    /// <summary>Record the <see cref="Trajectory"/> (with insertions and deletions).</summary>
    public bool RecordTrajectory { get; init; }

    /// <summary>The confidence DreamOn's sampler uses for a masked-sampler name: <c>entropy</c> (DreamOn's), <c>maskgit_plus</c>
    /// (probability of the chosen token) or <c>topk_margin</c>; any other name is refused.</summary>
    public static ConfidenceKind ConfidenceFor(string sampler) => sampler switch
    {
        "entropy" => ConfidenceKind.NegativeEntropy,
        "maskgit_plus" => ConfidenceKind.Probability,
        "topk_margin" => ConfidenceKind.Margin,
        _ => throw new ArgumentException($"sampler '{sampler}' cannot drive variable-length infilling: DreamOn commits one token per step "
                                         + "by confidence, so use entropy (DreamOn's), maskgit_plus or topk_margin"),
    };

    /// <summary>The options from the generic sampler knobs (temperature, top_p, top_k, alg_temp, seed, trajectory) and a confidence sampler name.</summary>
    public static DreamOnSamplerOptions From(SamplerSettings settings, string sampler, EditTokenIds tokens, int maxMiddle) => new DreamOnSamplerOptions
    {
        Tokens = tokens, MaxMiddle = maxMiddle, Confidence = ConfidenceFor(sampler), Temperature = settings.Temperature, TopP = settings.TopP,
        TopK = settings.TopK, AlgTemp = settings.AlgTemp, Seed = settings.Seed, RecordTrajectory = settings.RecordTrajectory,
    }.Validate();

    /// <summary>One-line <see cref="ArgumentException"/> naming the first bad option.</summary>
    public DreamOnSamplerOptions Validate()
    {
        ArgumentNullException.ThrowIfNull(Tokens);
        SamplerOptionChecks.Positive("max_middle", MaxMiddle);
        SamplerOptionChecks.Temperature(Temperature);
        SamplerOptionChecks.TopP(TopP);
        SamplerOptionChecks.TopK(TopK);
        SamplerOptionChecks.AlgTemp(AlgTemp);
        return this;
    }
}

/// <summary>A variable-length infill: the final canvas [1, T′] and where the middle lies in it.</summary>
/// <param name="Output">The decoded canvas, the number of forwards and the trajectory when recorded.</param>
/// <param name="MiddleStart">The first middle position (= the prefix length).</param>
/// <param name="MiddleLength">The middle's final length (0 when everything was deleted).</param>
/// <param name="Expansions">How many masks were expanded into two.</param>
/// <param name="Deletions">How many positions were deleted.</param>
public sealed record VariableInfillOutput(SamplerOutput Output, int MiddleStart, int MiddleLength, int Expansions, int Deletions);

/// <summary>
/// DreamOn variable-length infilling (SPEC §5.7; DreamLM/DreamOn <c>eval/generator.py</c>) for one row. The canvas is
/// <c>prefix + [MASK]×n₀ + suffix</c>; every step runs one full forward over the current canvas (positions 0..T−1,
/// bidirectional), scores the middle's masks (shifted logits realigned; <c>[MASK]</c> never proposed; <c>&lt;expand&gt;</c>
/// barred once the budget is spent) and commits exactly one, the most confident (or one drawn by confidence/alg_temp):
/// <list type="bullet">
/// <item><c>&lt;expand&gt;</c>: the position becomes two masks (middle +1, budget −1);</item>
/// <item><c>&lt;delete&gt;</c>: the position is removed, and so is every still-masked middle position right of it
/// (DreamOn's <c>pad_eos_to_right</c> followed by its deletion of those EOS: training appends deletes only at the end of
/// a middle);</item>
/// <item>any other token is committed in place.</item>
/// </list>
/// It stops when the middle has no mask left, which takes at most n₀ + 2·max_middle steps (each step removes a mask
/// except an expansion, and there are at most max_middle of those). Seeded; batch size 1, as DreamOn.
/// </summary>
public sealed class DreamOnSampler(DreamOnSamplerOptions options)
{
    /// <summary>The name logs and results use.</summary>
    public const string SamplerName = "dreamon";

    public DreamOnSamplerOptions Options { get; } = options.Validate();

    public string Name => SamplerName;

    /// <summary>Fills the gap between <paramref name="prefix"/> (at least one token) and <paramref name="suffix"/>, starting from
    /// <paramref name="initialMasks"/> masks (DreamOn's <c>min_gen_len</c>, at least 1 and at most <see cref="DreamOnSamplerOptions.MaxMiddle"/>).</summary>
    public VariableInfillOutput Infill(IDenoiser denoiser, IReadOnlyList<long> prefix, int initialMasks, IReadOnlyList<long> suffix, Device? device = null)
    {
        var o = Options;
        if (prefix.Count == 0) throw new ArgumentException("the prefix needs at least one token (e.g. BOS or EOS)", nameof(prefix));
        if (initialMasks < 1 || initialMasks > o.MaxMiddle)
            throw new ArgumentOutOfRangeException(nameof(initialMasks), initialMasks, $"initial middle length {initialMasks} must be in [1, max_middle = {o.MaxMiddle}]");
        long maskId = denoiser.MaskId;
        foreach (var (name, id) in new[] { (EditTokenIds.ExpandName, o.Tokens.Expand), (EditTokenIds.DeleteName, o.Tokens.Delete) })
            if (id >= denoiser.VocabSize) throw new ArgumentException($"the {name} id {id} does not fit the model's vocab_size {denoiser.VocabSize}");
        device ??= CPU;
        var canvas = new List<long>(prefix.Count + o.MaxMiddle + suffix.Count);
        canvas.AddRange(prefix);
        canvas.AddRange(Enumerable.Repeat(maskId, initialMasks));
        canvas.AddRange(suffix);
        int start = prefix.Count, middle = initialMasks, budget = o.MaxMiddle, forwards = 0, expansions = 0, deletions = 0;
        var initial = canvas.ToArray();
        var steps = new List<TrajectoryStep>();
        using var generator = SeededDraws.ForSeed(o.Seed);
        int limit = initialMasks + 2 * o.MaxMiddle;
        while (true)
        {
            var masked = Enumerable.Range(start, middle).Where(j => canvas[j] == maskId).ToArray();
            if (masked.Length == 0) break;
            if (forwards >= limit) throw new InvalidOperationException($"DreamOn sampler did not finish within {limit} steps (a bug: the budget bounds it)");
            bool canExpand = budget > 0 && middle < o.MaxMiddle;
            var (position, token, confidence) = Choose(denoiser, canvas, masked, canExpand, device, generator);
            forwards++;
            var events = new List<TokenEvent> { new(0, position, token, confidence) };
            if (token == o.Tokens.Expand)
            {
                canvas[position] = maskId;
                canvas.Insert(position + 1, maskId);
                middle++; budget--; expansions++;
                events.Add(new TokenEvent(0, position, maskId, 0f, Remasked: true));
                events.Add(new TokenEvent(0, position + 1, maskId, 0f, Inserted: true));
            }
            else if (token == o.Tokens.Delete)
            {
                var gone = Enumerable.Range(position + 1, start + middle - position - 1).Where(j => canvas[j] == maskId).Prepend(position).OrderDescending().ToList();
                foreach (int j in gone)
                {
                    long removed = canvas[j];
                    canvas.RemoveAt(j);
                    events.Add(new TokenEvent(0, j, removed, 0f, Deleted: true));
                }
                middle -= gone.Count; deletions += gone.Count;
            }
            else canvas[position] = token;
            if (o.RecordTrajectory) steps.Add(new TrajectoryStep(steps.Count, events));
        }
        var sequences = tensor(canvas.ToArray(), dtype: ScalarType.Int64).unsqueeze(0);
        var trajectory = o.RecordTrajectory ? new Trajectory(maskId, [initial], steps) : null;
        return new VariableInfillOutput(new SamplerOutput(sequences, forwards, trajectory), start, middle, expansions, deletions);
    }

    /// <summary>One forward over <paramref name="canvas"/>; the position to commit among <paramref name="masked"/>, its token and confidence.</summary>
    (int Position, long Token, float Confidence) Choose(IDenoiser denoiser, List<long> canvas, int[] masked, bool canExpand, Device device, Generator generator)
    {
        var o = Options;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = tensor(canvas.ToArray(), dtype: ScalarType.Int64).unsqueeze(0).to(device);
        var positions = arange(canvas.Count, dtype: ScalarType.Int64, device: device).unsqueeze(0);
        var logits = denoiser.Forward(new DenoiserInput(x, AttentionPolicy.Bidirectional, positions)).Logits;   // [1, T, V]
        if (denoiser.ShiftedLogits) logits = TokenChoice.AlignShiftedLogits(logits);
        var rows = logits[0].index_select(0, tensor(masked.Select(j => (long)j).ToArray(), dtype: ScalarType.Int64, device: logits.device))
                            .to(ScalarType.Float32).clone();                                                      // [N, V]
        long[] barred = canExpand ? [denoiser.MaskId] : [denoiser.MaskId, o.Tokens.Expand];                       // never commit [MASK] (SPEC §5.1)
        rows = rows.index_fill(1, tensor(barred, dtype: ScalarType.Int64, device: rows.device), float.NegativeInfinity);
        var (confidence, token) = TokenChoice.Choose(rows, o.Temperature, o.TopP, o.TopK, o.Confidence, generator);
        var pick = o.AlgTemp > 0
            ? SeededDraws.Categorical((confidence / o.AlgTemp).softmax(0).unsqueeze(0), generator)[0]
            : confidence.argmax();
        long i = pick.item<long>();
        return (masked[i], token[i].item<long>(), confidence[i].item<float>());
    }
}

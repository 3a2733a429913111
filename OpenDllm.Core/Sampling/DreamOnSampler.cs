using OpenDllm.Attention;
using OpenDllm.Runtime;
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
/// <param name="Output">The decoded canvas, the number of forwards this row took part in (= its forwards alone) and the
/// trajectory when recorded.</param>
/// <param name="MiddleStart">The first middle position (= the prefix length).</param>
/// <param name="MiddleLength">The middle's final length (0 when everything was deleted).</param>
/// <param name="Expansions">How many masks were expanded into two.</param>
/// <param name="Deletions">How many positions were deleted.</param>
public sealed record VariableInfillOutput(SamplerOutput Output, int MiddleStart, int MiddleLength, int Expansions, int Deletions);

/// <summary>One row of a variable-length infill batch: <c>prefix + [MASK]×InitialMasks + suffix</c>.</summary>
/// <param name="Prefix">At least one token (e.g. BOS or EOS).</param>
/// <param name="InitialMasks">DreamOn's <c>min_gen_len</c>, in [1, <see cref="DreamOnSamplerOptions.MaxMiddle"/>].</param>
/// <param name="Suffix">The text after the gap (may be empty).</param>
/// <param name="Seed">This row's seed; null = <see cref="DreamOnSamplerOptions.Seed"/>. Each row draws from its own
/// generator, so its draws never depend on the other rows of its batch.</param>
public sealed record VariableInfillRow(IReadOnlyList<long> Prefix, int InitialMasks, IReadOnlyList<long> Suffix, long? Seed = null);

/// <summary>
/// DreamOn variable-length infilling (SPEC §5.7; DreamLM/DreamOn <c>eval/generator.py</c>). A row's canvas is
/// <c>prefix + [MASK]×n₀ + suffix</c>; every step runs one bidirectional forward over the current canvas (positions
/// 0..T−1), scores the middle's masks (shifted logits realigned; <c>[MASK]</c> never proposed; <c>&lt;expand&gt;</c>
/// barred once the budget is spent) and commits exactly one, the most confident (or one drawn by confidence/alg_temp):
/// <list type="bullet">
/// <item><c>&lt;expand&gt;</c>: the position becomes two masks (middle +1, budget −1);</item>
/// <item><c>&lt;delete&gt;</c>: the position is removed, and so is every still-masked middle position right of it
/// (DreamOn's <c>pad_eos_to_right</c> followed by its deletion of those EOS: training appends deletes only at the end of
/// a middle);</item>
/// <item>any other token is committed in place.</item>
/// </list>
/// A row stops when its middle has no mask left, which takes at most n₀ + 2·max_middle steps (each step removes a mask
/// except an expansion, and there are at most max_middle of those).
/// <para>
/// <b>Batches</b> (<see cref="InfillBatch"/>): the rows' canvases change length independently. Each step packs the live
/// rows' current canvases into one right-padded batch; a key-padding mask hides the padding from attention and each row
/// gets positions 0..T_r−1, exactly as it has alone; the LM head runs only at the rows that predict a middle mask. Then
/// each row decides from its own logits with its own seeded generator, and a finished row leaves the batch. So a row's
/// middle equals its batch-1 middle up to floating-point rounding (other kernel shapes; a near-tie between two
/// confidences can then resolve differently), sampled rows included (the property test compares them in float64).
/// </para>
/// </summary>
public sealed class DreamOnSampler(DreamOnSamplerOptions options)
{
    /// <summary>The name logs and results use.</summary>
    public const string SamplerName = "dreamon";

    public DreamOnSamplerOptions Options { get; } = options.Validate();

    public string Name => SamplerName;

    /// <summary>Fills the gap between <paramref name="prefix"/> (at least one token) and <paramref name="suffix"/>, starting from
    /// <paramref name="initialMasks"/> masks (DreamOn's <c>min_gen_len</c>, at least 1 and at most <see cref="DreamOnSamplerOptions.MaxMiddle"/>).</summary>
    public VariableInfillOutput Infill(IDenoiser denoiser, IReadOnlyList<long> prefix, int initialMasks, IReadOnlyList<long> suffix, Device? device = null) =>
        InfillBatch(denoiser, [new VariableInfillRow(prefix, initialMasks, suffix)], device)[0];

    /// <summary>Fills every row's gap, the rows decoded together (one forward per step over the rows still decoding);
    /// one output per row, in order, each as that row decodes alone.</summary>
    public IReadOnlyList<VariableInfillOutput> InfillBatch(IDenoiser denoiser, IReadOnlyList<VariableInfillRow> rows, Device? device = null)
    {
        var o = Options;
        if (rows.Count == 0) throw new ArgumentException("no infill rows", nameof(rows));
        foreach (var (name, id) in new[] { (EditTokenIds.ExpandName, o.Tokens.Expand), (EditTokenIds.DeleteName, o.Tokens.Delete) })
            if (id >= denoiser.VocabSize) throw new ArgumentException($"the {name} id {id} does not fit the model's vocab_size {denoiser.VocabSize}");
        for (int r = 0; r < rows.Count; r++)
        {
            string which = rows.Count == 1 ? "" : $"row {r}: ";
            if (rows[r].Prefix.Count == 0) throw new ArgumentException($"{which}the prefix needs at least one token (e.g. BOS or EOS)", nameof(rows));
            if (rows[r].InitialMasks < 1 || rows[r].InitialMasks > o.MaxMiddle)
                throw new ArgumentOutOfRangeException(nameof(rows), rows[r].InitialMasks,
                    $"{which}initial middle length {rows[r].InitialMasks} must be in [1, max_middle = {o.MaxMiddle}]");
        }
        device ??= CPU;
        var states = rows.Select(r => new RowState(r, denoiser.MaskId, o)).ToList();
        try
        {
            var live = states.Where(s => s.Masked().Length > 0).ToList();
            while (live.Count > 0)
            {
                var masked = live.Select(s => s.Masked()).ToArray();
                var decisions = Choose(denoiser, live, masked, device);
                for (int i = 0; i < live.Count; i++) live[i].Apply(decisions[i], o.Tokens);
                live.RemoveAll(s => s.Masked().Length == 0);
            }
            return states.Select(s => s.Output()).ToList();
        }
        finally
        {
            foreach (var s in states) s.Dispose();
        }
    }

    /// <summary>
    /// One forward over the live rows' canvases (right-padded to the widest, padding keys masked, positions 0..T_r−1 per
    /// row, the head applied only where a middle mask is predicted); per row, the position to commit among its
    /// <paramref name="masked"/> positions, its token and confidence, drawn with that row's generator.
    /// </summary>
    (int Position, long Token, float Confidence)[] Choose(IDenoiser denoiser, List<RowState> live, int[][] masked, Device device)
    {
        var o = Options;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        int rows = live.Count, width = live.Max(s => s.Canvas.Count);
        bool ragged = live.Any(s => s.Canvas.Count != width);
        var tokens = new long[rows, width];
        var positions = new long[rows, width];
        var real = new bool[rows, width];
        var output = new bool[rows, width];
        int shift = denoiser.ShiftedLogits ? 1 : 0;                          // a shifted model predicts j from j − 1 (SPEC §2.3)
        for (int r = 0; r < rows; r++)
        {
            var canvas = live[r].Canvas;
            for (int j = 0; j < width; j++)
            {
                bool inside = j < canvas.Count;
                tokens[r, j] = inside ? canvas[j] : denoiser.MaskId;         // padding: any id, hidden from every query
                positions[r, j] = Math.Min(j, canvas.Count - 1);
                real[r, j] = inside;
            }
            foreach (int j in masked[r]) output[r, j - shift] = true;        // the prefix is ≥ 1 token, so j − 1 ≥ 0
        }
        var x = tensor(tokens).to(device);
        var keyPadding = ragged ? tensor(real).to(device) : null;
        var logits = denoiser.Forward(new DenoiserInput(x, AttentionPolicy.Bidirectional, tensor(positions).to(device), keyPadding,
                                                        OutputPositions: tensor(output).to(device))).Logits
                             .to(ScalarType.Float32);                                                             // [N, V], row-major
        var picks = new List<Tensor>(rows);
        var chosen = new List<Tensor>(rows);
        var confidences = new List<Tensor>(rows);
        var barredAll = tensor(new[] { denoiser.MaskId, o.Tokens.Expand }, device: logits.device);
        var barredMask = barredAll.narrow(0, 0, 1);
        long offset = 0;
        for (int r = 0; r < rows; r++)
        {
            var state = live[r];
            var rowLogits = logits.narrow(0, offset, masked[r].Length);                                           // [N_r, V]
            offset += masked[r].Length;
            // never commit [MASK] (SPEC §5.1); <expand> is barred once the budget is spent
            rowLogits = rowLogits.index_fill(1, state.CanExpand(o.MaxMiddle) ? barredMask : barredAll, ScalarOps.NegativeInfinity);
            var (confidence, token) = TokenChoice.Choose(rowLogits, o.Temperature, o.TopP, o.TopK, o.Confidence, state.Generator);
            var pick = o.AlgTemp > 0
                ? SeededDraws.Categorical(confidence.DivScalar(o.AlgTemp).softmax(0).unsqueeze(0), state.Generator)[0]
                : confidence.argmax();
            var at = pick.reshape(1);
            picks.Add(at);
            chosen.Add(token.index_select(0, at));
            confidences.Add(confidence.index_select(0, at));
        }
        var pickHost = SamplingGuards.HostLongs(cat(picks, 0));
        var tokenHost = SamplingGuards.HostLongs(cat(chosen, 0));
        var confidenceHost = cat(confidences, 0).to(ScalarType.Float32).cpu().data<float>().ToArray();
        return Enumerable.Range(0, rows).Select(r => (masked[r][pickHost[r]], tokenHost[r], confidenceHost[r])).ToArray();
    }

    /// <summary>One row's canvas, counters, generator and trajectory while it decodes.</summary>
    sealed class RowState : IDisposable
    {
        readonly long maskId;
        readonly bool record;
        readonly long[] initial;
        readonly List<TrajectoryStep> steps = [];
        readonly int start, limit;
        int middle, budget, forwards, expansions, deletions;

        public RowState(VariableInfillRow row, long maskId, DreamOnSamplerOptions o)
        {
            this.maskId = maskId;
            record = o.RecordTrajectory;
            Canvas = new List<long>(row.Prefix.Count + o.MaxMiddle + row.Suffix.Count);
            Canvas.AddRange(row.Prefix);
            Canvas.AddRange(Enumerable.Repeat(maskId, row.InitialMasks));
            Canvas.AddRange(row.Suffix);
            initial = Canvas.ToArray();
            start = row.Prefix.Count;
            middle = row.InitialMasks;
            budget = o.MaxMiddle;
            limit = row.InitialMasks + 2 * o.MaxMiddle;
            Generator = SeededDraws.ForSeed(row.Seed ?? o.Seed);
        }

        public List<long> Canvas { get; }
        public Generator Generator { get; }

        /// <summary>The middle's still-masked positions.</summary>
        public int[] Masked() => Enumerable.Range(start, middle).Where(j => Canvas[j] == maskId).ToArray();

        /// <summary>Whether an <c>&lt;expand&gt;</c> may still be committed: budget left and the middle below max_middle.</summary>
        public bool CanExpand(int maxMiddle) => budget > 0 && middle < maxMiddle;

        /// <summary>Commits one decision: a token in place, an expansion into two masks, or a deletion (with the masks right of it).</summary>
        public void Apply((int Position, long Token, float Confidence) decision, EditTokenIds edits)
        {
            if (forwards >= limit) throw new InvalidOperationException($"DreamOn sampler did not finish within {limit} steps (a bug: the budget bounds it)");
            var (position, token, confidence) = decision;
            forwards++;
            var events = new List<TokenEvent> { new(0, position, token, confidence) };
            if (token == edits.Expand)
            {
                Canvas[position] = maskId;
                Canvas.Insert(position + 1, maskId);
                middle++; budget--; expansions++;
                events.Add(new TokenEvent(0, position, maskId, 0f, Remasked: true));
                events.Add(new TokenEvent(0, position + 1, maskId, 0f, Inserted: true));
            }
            else if (token == edits.Delete)
            {
                var gone = Enumerable.Range(position + 1, start + middle - position - 1).Where(j => Canvas[j] == maskId).Prepend(position).OrderDescending().ToList();
                foreach (int j in gone)
                {
                    long removed = Canvas[j];
                    Canvas.RemoveAt(j);
                    events.Add(new TokenEvent(0, j, removed, 0f, Deleted: true));
                }
                middle -= gone.Count; deletions += gone.Count;
            }
            else Canvas[position] = token;
            if (record) steps.Add(new TrajectoryStep(steps.Count, events));
        }

        /// <summary>The final canvas [1, T′] (in the caller's dispose scope) and the row's counters.</summary>
        public VariableInfillOutput Output()
        {
            var sequences = tensor(Canvas.ToArray(), dtype: ScalarType.Int64).unsqueeze(0);
            var trajectory = record ? new Trajectory(maskId, [initial], steps) : null;
            return new VariableInfillOutput(new SamplerOutput(sequences, forwards, trajectory), start, middle, expansions, deletions);
        }

        public void Dispose() => Generator.Dispose();
    }
}

using System.Text.Json;
using System.Text.Json.Serialization;
using OpenDllm.IO;

namespace OpenDllm.Sampling;

/// <summary>
/// One decoding event: at a step, a position of a row got a token (or, under p2, was re-masked). Variable-length samplers
/// (DreamOn, SPEC §5.7) also change the canvas length: <paramref name="Inserted"/> puts <paramref name="Token"/> in at
/// <paramref name="Position"/> (later positions move right), <paramref name="Deleted"/> removes the position (later ones move
/// left). A step's events apply in order, each position counted in the canvas as the previous events left it.
/// </summary>
public sealed record TokenEvent(int Row, int Position, long Token, float Confidence, bool Remasked = false,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool Inserted = false,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool Deleted = false);

/// <summary>What happened at one denoiser step.</summary>
public sealed record TrajectoryStep(int Step, IReadOnlyList<TokenEvent> Events);

/// <summary>
/// The denoising order of a sampling run, so a notebook can replay it: the initial canvas, then for every forward the
/// positions committed with their tokens and confidences. Recorded only when asked for (off costs nothing).
/// </summary>
public sealed record Trajectory(long MaskId, long[][] Initial, IReadOnlyList<TrajectoryStep> Steps)
{
    /// <summary>The canvas after <paramref name="steps"/> steps (0 = initial); rows may differ in length after insertions and deletions.</summary>
    public long[][] CanvasAfter(int steps) =>
        Replay(steps, r => Initial[r].ToList(), (e, _) => e.Remasked ? MaskId : e.Token).Select(r => r.ToArray()).ToArray();

    /// <summary>For each row and position of the final canvas, the step (1-based) that last committed it; 0 for fixed, never
    /// decoded or inserted as a mask.</summary>
    public int[][] CommitStep() =>
        Replay(Steps.Count, r => Enumerable.Repeat(0, Initial[r].Length).ToList(),
               (e, step) => e.Remasked || (e.Inserted && e.Token == MaskId) ? 0 : step + 1).Select(r => r.ToArray()).ToArray();

    /// <summary>For each row and position of the final canvas, the confidence of the event that last set it (NaN for fixed,
    /// re-masked or inserted positions).</summary>
    public float[][] LastConfidence() =>
        Replay(Steps.Count, r => Enumerable.Repeat(float.NaN, Initial[r].Length).ToList(),
               (e, _) => e.Remasked || e.Inserted ? float.NaN : e.Confidence).Select(r => r.ToArray()).ToArray();

    /// <summary>Per row, a list of per-position values after the first <paramref name="steps"/> steps: every event sets its
    /// position to <paramref name="value"/>(event, step), or inserts / removes a position (<see cref="TokenEvent"/>).</summary>
    List<T>[] Replay<T>(int steps, Func<int, List<T>> initial, Func<TokenEvent, int, T> value)
    {
        var rows = Enumerable.Range(0, Initial.Length).Select(initial).ToArray();
        foreach (var step in Steps.Take(steps))
            foreach (var e in step.Events)
            {
                if (e.Deleted) rows[e.Row].RemoveAt(e.Position);
                else if (e.Inserted) rows[e.Row].Insert(e.Position, value(e, step.Step));
                else rows[e.Row][e.Position] = value(e, step.Step);
            }
        return rows;
    }

    static readonly JsonSerializerOptions Json = new() { WriteIndented = false, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson());

    public static Trajectory Load(string path) =>
        JsonSerializer.Deserialize<Trajectory>(File.ReadAllText(path), Json)
        ?? throw new InvalidDataException($"{path}: not a trajectory");
}

/// <summary>Collects trajectory steps by comparing the canvas before and after each step.</summary>
internal sealed class TrajectoryRecorder
{
    readonly long _maskId;
    readonly long[][] _initial;
    readonly List<TrajectoryStep> _steps = [];

    public TrajectoryRecorder(TorchSharp.torch.Tensor canvas, long maskId)
    {
        _maskId = maskId;
        _initial = Rows(canvas);
        SamplingProgress.Started(_initial.Select(r => (long[])r.Clone()).ToArray(), maskId);
    }

    static long[][] Rows(TorchSharp.torch.Tensor t)
    {
        var flat = SamplingGuards.HostLongs(t);
        int cols = (int)t.shape[1];
        return Enumerable.Range(0, (int)t.shape[0]).Select(r => flat.AsSpan(r * cols, cols).ToArray()).ToArray();
    }

    /// <summary>
    /// Records the differences between <paramref name="before"/> and <paramref name="after"/> [B, T] (any device). The
    /// three [B, T] tensors travel to the host as one float64 stack (token ids are exact in float64), one copy per step.
    /// </summary>
    public void Record(TorchSharp.torch.Tensor before, TorchSharp.torch.Tensor after, TorchSharp.torch.Tensor? confidence)
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        const TorchSharp.torch.ScalarType F64 = TorchSharp.torch.ScalarType.Float64;
        var conf = confidence?.to(F64) ?? TorchSharp.torch.full_like(before, double.NaN, dtype: F64);
        var host = TorchSharp.torch.stack([before.to(F64), after.to(F64), conf]).cpu().contiguous().data<double>().ToArray();
        int rows = (int)before.shape[0], cols = (int)before.shape[1], plane = rows * cols;
        var events = new List<TokenEvent>();
        for (int i = 0; i < plane; i++)
        {
            long b = (long)host[i], a = (long)host[plane + i];
            if (a != b) events.Add(new TokenEvent(i / cols, i % cols, a, (float)host[2 * plane + i], a == _maskId));
        }
        _steps.Add(new TrajectoryStep(_steps.Count, events));
        if (SamplingProgress.IsWatched)
            SamplingProgress.Stepped(Enumerable.Range(0, rows).Select(r => host.AsSpan(plane + r * cols, cols).ToArray().Select(v => (long)v).ToArray()).ToArray(),
                events, _maskId);
    }

    public Trajectory Build() => new(_maskId, _initial, _steps);
}

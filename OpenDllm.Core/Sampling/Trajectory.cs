using System.Text.Json;
using OpenDllm.IO;

namespace OpenDllm.Sampling;

/// <summary>One decoding event: at a step, a position of a row got a token (or, under p2, was re-masked).</summary>
public sealed record TokenEvent(int Row, int Position, long Token, float Confidence, bool Remasked = false);

/// <summary>What happened at one denoiser step.</summary>
public sealed record TrajectoryStep(int Step, IReadOnlyList<TokenEvent> Events);

/// <summary>
/// The denoising order of a sampling run, so a notebook can replay it: the initial canvas, then for every forward the
/// positions committed with their tokens and confidences. Recorded only when asked for (off costs nothing).
/// </summary>
public sealed record Trajectory(long MaskId, long[][] Initial, IReadOnlyList<TrajectoryStep> Steps)
{
    /// <summary>The canvas after <paramref name="steps"/> steps (0 = initial).</summary>
    public long[][] CanvasAfter(int steps)
    {
        var canvas = Initial.Select(r => (long[])r.Clone()).ToArray();
        foreach (var step in Steps.Take(steps))
            foreach (var e in step.Events)
                canvas[e.Row][e.Position] = e.Remasked ? MaskId : e.Token;
        return canvas;
    }

    /// <summary>For each row and position, the step (1-based) that last committed it; 0 for fixed or never decoded.</summary>
    public int[][] CommitStep()
    {
        var order = Initial.Select(r => new int[r.Length]).ToArray();
        foreach (var step in Steps)
            foreach (var e in step.Events)
                order[e.Row][e.Position] = e.Remasked ? 0 : step.Step + 1;
        return order;
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

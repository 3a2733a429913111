using OpenDllm.Sampling;

namespace OpenDllm.Tests.Rendering;

static class RenderingFixtures
{
    public const long Mask = 300;

    /// <summary>Two rows of 8: positions 0–1 fixed ("hi"), the rest decoded over 4 steps, one position re-masked and re-committed.</summary>
    public static Trajectory Trajectory()
    {
        long[] row(string fixedText) => [.. fixedText.Select(c => (long)c), Mask, Mask, Mask, Mask, Mask, Mask];
        var initial = new[] { row("hi"), row("yo") };
        var steps = new List<TrajectoryStep>
        {
            new(0, [new(0, 2, 'a', 0.9f), new(1, 7, 'z', 0.5f), new(0, 5, 'q', 0.2f)]),
            new(1, [new(0, 3, 'b', 0.8f), new(1, 2, 'c', 0.7f), new(0, 5, Mask, float.NaN, Remasked: true)]),
            new(2, [new(0, 4, '<', 0.6f), new(0, 5, '&', 0.95f), new(1, 3, 'd', 0.4f), new(1, 4, '"', 0.3f)]),
            new(3, [new(0, 6, ' ', 0.99f), new(0, 7, '!', 0.1f), new(1, 5, 'e', 0.2f), new(1, 6, 'f', 0.2f)]),
        };
        return new Trajectory(Mask, initial, steps);
    }

    public static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "odl-render-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static string WriteMetrics(string dir, string name, double lossScale, string valKey)
    {
        var run = Path.Combine(dir, name);
        Directory.CreateDirectory(run);
        var lines = new List<string>();
        for (int s = 1; s <= 20; s++)
        {
            lines.Add($$"""{"step":{{s}},"loss":{{(lossScale * 5.0 / s).ToString(System.Globalization.CultureInfo.InvariantCulture)}},"lr":{{(s * 1e-4).ToString(System.Globalization.CultureInfo.InvariantCulture)}},"grad_norm":1.5,"tokens":{{s * 512}},"tokens_per_s":1000.0,"elapsed_s":{{s}}}""");
            if (s % 5 == 0) lines.Add($$"""{"step":{{s}},"{{valKey}}":{{(lossScale * 8.0 / s).ToString(System.Globalization.CultureInfo.InvariantCulture)}},"eval_tokens":4096}""");
        }
        File.WriteAllLines(Path.Combine(run, "metrics.jsonl"), lines);
        return run;
    }

    public static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
}
